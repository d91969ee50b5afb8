// model.c -- the model as an object: presets, configuration checks, random
// initialisation, the model file (docs/format.md) and the fingerprint.
//
// The forward pass lives in forward.c; this file only owns memory and bytes.
// Everything here is integer or IEEE basic arithmetic (plus lmic's own
// transcendentals), so a seed or a file gives the same model on every machine.
#include <math.h>  // sqrt only: correctly rounded, not a transcendental
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model_internal.h"

#define MODEL_MAGIC "LMICMODL"
#define MODEL_VERSION 1u
#define MODEL_HEADER_BYTES 68  // magic 8, version 4, dtype 4, config 28, params 8, md5 16

// --- configuration

typedef struct { const char *name; lmic_model_config cfg; } preset_;
static const preset_ presets_[] = {
    {"dm-default", {64, 4, 8, 4, 2048, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST}},
    {"200k", {64, 4, 4, 4, 2048, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST}},
    {"800k", {128, 4, 4, 4, 2048, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST}},
    {"3.2m", {256, 4, 8, 4, 2048, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST}},
};

lmic_status lmic_model_preset(const char *name, lmic_model_config *cfg) {
    for (size_t i = 0; i < sizeof presets_ / sizeof *presets_; i++)
        if (name && strcmp(name, presets_[i].name) == 0) { *cfg = presets_[i].cfg; return LMIC_OK; }
    return LMIC_ERR_ARG;
}

lmic_status lmic_model_config_check(const lmic_model_config *c) {
    if (!c) return LMIC_ERR_ARG;
    if (c->d_model < 2 || c->d_model > 4096) return LMIC_ERR_ARG;
    if (c->n_layers < 1 || c->n_layers > LMIC_MAX_LAYERS) return LMIC_ERR_ARG;
    if (c->n_heads < 1 || c->n_heads > 256 || c->d_model % c->n_heads) return LMIC_ERR_ARG;
    if (c->widening < 1 || c->widening > 16) return LMIC_ERR_ARG;
    if (c->context < 1 || c->context > 65536) return LMIC_ERR_ARG;
    if (c->positions != LMIC_POS_SINUSOIDAL && c->positions != LMIC_POS_ROTARY) return LMIC_ERR_ARG;
    if (c->norm != LMIC_NORM_POST && c->norm != LMIC_NORM_PRE) return LMIC_ERR_ARG;
    if (c->positions == LMIC_POS_ROTARY && (c->d_model / c->n_heads) % 2) return LMIC_ERR_ARG;
    if (c->positions == LMIC_POS_SINUSOIDAL && c->d_model % 2) return LMIC_ERR_ARG;
    if (lmic_model_config_params(c) > ((size_t)1 << 31)) return LMIC_ERR_ARG;
    return LMIC_OK;
}

size_t lmic_model_config_params(const lmic_model_config *c) {
    size_t C = (size_t)c->d_model, F = C * (size_t)c->widening, V = LMIC_VOCAB;
    size_t layer = 4 * C * C + 2 * C + C * F + F + F * C + C + 2 * C;
    size_t n = V * C + (size_t)c->n_layers * layer + C * V + V;
    if (c->norm == LMIC_NORM_PRE) n += 2 * C;
    return n;
}

// --- memory

lmic_status lmic_model_bind_(lmic_model *m) {
    const lmic_model_config *c = &m->cfg;
    size_t C = (size_t)c->d_model, F = C * (size_t)c->widening, V = LMIC_VOCAB;
    float *p = m->params;
    m->wte = p; p += V * C;
    for (int l = 0; l < c->n_layers; l++) {
        lmic_layer *y = &m->layer[l];
        y->wq = p; p += C * C;
        y->wk = p; p += C * C;
        y->wv = p; p += C * C;
        y->wo = p; p += C * C;
        y->ln1_g = p; p += C;
        y->ln1_b = p; p += C;
        y->w1 = p; p += C * F;
        y->b1 = p; p += F;
        y->w2 = p; p += F * C;
        y->b2 = p; p += C;
        y->ln2_g = p; p += C;
        y->ln2_b = p; p += C;
    }
    m->lnf_g = m->lnf_b = NULL;
    if (c->norm == LMIC_NORM_PRE) {
        m->lnf_g = p; p += C;
        m->lnf_b = p; p += C;
    }
    m->wout = p; p += C * V;
    m->bout = p; p += V;
    if ((size_t)(p - m->params) != m->num_params) return LMIC_ERR_ARG;  // layout bug
    return lmic_model_tables_(m);
}

// A model with room for cfg's parameters, all zero. cfg must be checked.
static lmic_model *alloc_(const lmic_model_config *cfg) {
    lmic_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    m->num_params = lmic_model_config_params(cfg);
    m->params = calloc(m->num_params, sizeof *m->params);
    if (!m->params) { free(m); return NULL; }
    return m;
}

void lmic_model_free(lmic_model *m) {
    if (!m) return;
    free(m->params);
    free(m->pos);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m);
}

const lmic_model_config *lmic_model_get_config(const lmic_model *m) { return &m->cfg; }
size_t lmic_model_num_params(const lmic_model *m) { return m->num_params; }

// --- little-endian bytes

static void put32_(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32_(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t fbits_(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf_(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void config_bytes_(const lmic_model_config *c, uint8_t out[28]) {
    const int v[7] = {c->d_model, c->n_layers, c->n_heads, c->widening, c->context, c->positions, c->norm};
    for (int i = 0; i < 7; i++) put32_(out + 4 * i, (uint32_t)v[i]);
}

// The fingerprint: MD5 of the config and the float32 weights, little-endian.
// It names the function the model computes, whatever the storage type.
void lmic_model_refingerprint_(lmic_model *m) {
    lmic_md5 c;
    uint8_t cb[28], buf[4096];
    lmic_md5_init(&c);
    config_bytes_(&m->cfg, cb);
    lmic_md5_update(&c, cb, sizeof cb);
    for (size_t i = 0; i < m->num_params;) {
        size_t k = 0;
        for (; k < sizeof buf / 4 && i < m->num_params; k++, i++) put32_(buf + 4 * k, fbits_(m->params[i]));
        lmic_md5_update(&c, buf, 4 * k);
    }
    lmic_md5_final(&c, m->fingerprint);
}

void lmic_model_fingerprint(const lmic_model *m, char hex[33]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[m->fingerprint[i] >> 4];
        hex[2 * i + 1] = digits[m->fingerprint[i] & 15];
    }
    hex[32] = 0;
}

// --- float16 storage (IEEE binary16, round to nearest even)

static uint16_t to_f16_(float f) {
    uint32_t u = fbits_(f), sign = (u >> 16) & 0x8000u, e = (u >> 23) & 0xFF, mant = u & 0x7FFFFFu;
    if (e == 0xFF) return (uint16_t)(sign | 0x7C00u | (mant ? 0x200u : 0));  // inf, NaN
    int ex = (int)e - 127 + 15;
    if (ex >= 31) return (uint16_t)(sign | 0x7C00u);  // overflow -> inf
    if (ex <= 0) {  // subnormal half (or zero)
        if (ex < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - ex;  // 24-bit mantissa -> 10 - (1 - ex) bits
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)ex << 10) | (mant >> 13), rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;  // may carry into inf: correct
    return (uint16_t)(sign | h);
}

static float from_f16_(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1F, mant = h & 0x3FFu;
    if (e == 0x1F) return bitsf_(sign | 0x7F800000u | (mant << 13));
    if (e == 0) {
        if (!mant) return bitsf_(sign);
        int k = 0;  // normalise the subnormal
        while (!(mant & 0x400u)) { mant <<= 1; k++; }
        return bitsf_(sign | ((uint32_t)(113 - k) << 23) | ((mant & 0x3FFu) << 13));
    }
    return bitsf_(sign | ((e + 112) << 23) | (mant << 13));
}

// --- random initialisation (the reference's haiku initialisers)

static double uniform_(uint64_t *rng) {  // in (0, 1)
    return ((double)(lmic_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Truncated normal at +-2 standard deviations, rescaled as haiku's
// TruncatedNormal so that the result has standard deviation `std`.
static float trunc_normal_(uint64_t *rng, double std) {
    for (;;) {
        double u1 = uniform_(rng), u2 = uniform_(rng);
        double z = sqrt(-2.0 * lmic_log_(u1)) * lmic_cos_(6.283185307179586 * u2);
        if (z >= -2.0 && z <= 2.0) return (float)(z * std / 0.87962566103423978);
    }
}

static void fill_normal_(uint64_t *rng, float *w, size_t n, double std) {
    for (size_t i = 0; i < n; i++) w[i] = trunc_normal_(rng, std);
}

lmic_status lmic_model_new_random(const lmic_model_config *cfg, uint64_t seed, lmic_model **out) {
    *out = NULL;
    if (lmic_model_config_check(cfg) != LMIC_OK) return LMIC_ERR_ARG;
    lmic_model *m = alloc_(cfg);
    if (!m) return LMIC_ERR_NOMEM;
    lmic_status st = lmic_model_bind_(m);
    if (st != LMIC_OK) { lmic_model_free(m); return st; }
    size_t C = (size_t)cfg->d_model, F = C * (size_t)cfg->widening, V = LMIC_VOCAB;
    uint64_t rng = seed;
    fill_normal_(&rng, m->wte, V * C, 0.02);
    for (int l = 0; l < cfg->n_layers; l++) {
        lmic_layer *y = &m->layer[l];
        float *sq[4] = {y->wq, y->wk, y->wv, y->wo};
        for (int k = 0; k < 4; k++) fill_normal_(&rng, sq[k], C * C, 1.0 / sqrt((double)C));
        fill_normal_(&rng, y->w1, C * F, 1.0 / sqrt((double)C));
        fill_normal_(&rng, y->w2, F * C, 1.0 / sqrt((double)F));
        for (size_t i = 0; i < C; i++) y->ln1_g[i] = y->ln2_g[i] = 1.0f;
    }
    if (m->lnf_g)
        for (size_t i = 0; i < C; i++) m->lnf_g[i] = 1.0f;
    fill_normal_(&rng, m->wout, C * V, 1.0 / sqrt((double)C));
    lmic_model_refingerprint_(m);
    *out = m;
    return LMIC_OK;
}

// --- the model file

lmic_status lmic_model_save(const lmic_model *m, int f16, lmic_buf *out) {
    size_t start = out->size, wb = f16 ? 2 : 4;
    if (m->num_params > (SIZE_MAX - 128) / wb) return LMIC_ERR_NOMEM;
    lmic_status st = lmic_buf_reserve(out, MODEL_HEADER_BYTES + m->num_params * wb + 4);
    if (st != LMIC_OK) return st;
    uint8_t *p = out->data + start;
    memcpy(p, MODEL_MAGIC, 8);
    put32_(p + 8, MODEL_VERSION);
    put32_(p + 12, f16 ? 1u : 0u);
    config_bytes_(&m->cfg, p + 16);
    for (int i = 0; i < 8; i++) p[44 + i] = (uint8_t)((uint64_t)m->num_params >> (8 * i));
    // The fingerprint of what a reader will load: float16 rounding changes it.
    uint8_t *fp = p + 52, *w = p + MODEL_HEADER_BYTES;
    if (f16) {
        lmic_model tmp = *m;
        tmp.params = malloc(m->num_params * sizeof *tmp.params);
        if (!tmp.params) return LMIC_ERR_NOMEM;
        for (size_t i = 0; i < m->num_params; i++) {
            uint16_t h = to_f16_(m->params[i]);
            w[2 * i] = (uint8_t)h;
            w[2 * i + 1] = (uint8_t)(h >> 8);
            tmp.params[i] = from_f16_(h);
        }
        lmic_model_refingerprint_(&tmp);
        memcpy(fp, tmp.fingerprint, 16);
        free(tmp.params);
    } else {
        for (size_t i = 0; i < m->num_params; i++) put32_(w + 4 * i, fbits_(m->params[i]));
        memcpy(fp, m->fingerprint, 16);
    }
    size_t n = MODEL_HEADER_BYTES + m->num_params * wb;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < n; off += 1u << 30) {
        size_t k = n - off < (1u << 30) ? n - off : (1u << 30);
        crc = crc32(crc, p + off, (uInt)k);
    }
    put32_(p + n, (uint32_t)crc);
    out->size = start + n + 4;
    return LMIC_OK;
}

lmic_status lmic_model_load(const uint8_t *data, size_t size, lmic_model **out) {
    *out = NULL;
    if (!data || size < 8 || memcmp(data, MODEL_MAGIC, 8) != 0) return LMIC_ERR_FORMAT;
    if (size < MODEL_HEADER_BYTES + 4) return LMIC_ERR_CORRUPT;  // truncated header
    if (get32_(data + 8) != MODEL_VERSION) return LMIC_ERR_UNSUPPORTED;
    uint32_t dtype = get32_(data + 12);
    if (dtype > 1) return LMIC_ERR_UNSUPPORTED;
    lmic_model_config c;
    int32_t v[7];
    for (int i = 0; i < 7; i++) v[i] = (int32_t)get32_(data + 16 + 4 * i);
    c = (lmic_model_config){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    uint64_t np = 0;
    for (int i = 0; i < 8; i++) np |= (uint64_t)data[44 + i] << (8 * i);
    // Check sizes before believing any of them: a damaged or hostile header
    // must not make us allocate.
    if (lmic_model_config_check(&c) != LMIC_OK || np != lmic_model_config_params(&c))
        return LMIC_ERR_CORRUPT;
    size_t wb = dtype ? 2 : 4, n = MODEL_HEADER_BYTES + (size_t)np * wb;
    if (size != n + 4) return LMIC_ERR_CORRUPT;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < n; off += 1u << 30) {
        size_t k = n - off < (1u << 30) ? n - off : (1u << 30);
        crc = crc32(crc, data + off, (uInt)k);
    }
    if ((uint32_t)crc != get32_(data + n)) return LMIC_ERR_CORRUPT;
    lmic_model *m = alloc_(&c);
    if (!m) return LMIC_ERR_NOMEM;
    const uint8_t *w = data + MODEL_HEADER_BYTES;
    for (size_t i = 0; i < m->num_params; i++)
        m->params[i] = dtype ? from_f16_((uint16_t)(w[2 * i] | w[2 * i + 1] << 8)) : bitsf_(get32_(w + 4 * i));
    lmic_status st = lmic_model_bind_(m);
    if (st != LMIC_OK) { lmic_model_free(m); return st; }
    lmic_model_refingerprint_(m);
    if (memcmp(m->fingerprint, data + 52, 16) != 0) { lmic_model_free(m); return LMIC_ERR_CORRUPT; }
    *out = m;
    return LMIC_OK;
}
