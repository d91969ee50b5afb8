/*
 * lmic.h -- the one public header of liblmic.
 *
 * lmic implements "Language Modeling is Compression" (Deletang et al., ICLR 2024)
 * for lossless audio: a byte-level model predicts the next byte and an arithmetic
 * coder turns the predictions into bits. This header is the library's manual.
 *
 * Conventions
 *  - Fallible calls return lmic_status (LMIC_OK = 0); lmic_strerror() names it.
 *  - The library never prints, exits or aborts; errors are returned, never
 *    stored in globals.
 *  - Handles are opaque; every *_free() accepts NULL.
 *  - Unless a function says otherwise it is reentrant: distinct handles may be
 *    used from distinct threads at once.
 */
#ifndef LMIC_H
#define LMIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LMIC_VERSION_STRING "0.1.0"

// ----------------------------------------------------------------------------
// Status codes. Values are stable: they may be stored and compared.

typedef enum {
    LMIC_OK = 0,
    LMIC_ERR_NOMEM = 1,        // an allocation failed
    LMIC_ERR_ARG = 2,          // an argument is out of range or inconsistent
    LMIC_ERR_IO = 3,           // reading or writing a file failed
    LMIC_ERR_FORMAT = 4,       // input is not in the expected format
    LMIC_ERR_CORRUPT = 5,      // input is damaged (checksum, impossible value)
    LMIC_ERR_UNSUPPORTED = 6,  // valid input that lmic does not handle
    LMIC_ERR_CODEC = 7,        // an external codec library reported a failure
} lmic_status;

// Returns a static, human-readable name for `s` ("out of memory", ...).
const char *lmic_strerror(lmic_status s);

// ----------------------------------------------------------------------------
// Growable byte buffer: the output type of every compressor.
// A zero-initialised lmic_buf is an empty buffer. The buffer owns `data`.

typedef struct {
    uint8_t *data;
    size_t size;  // bytes in use
    size_t cap;   // bytes allocated
} lmic_buf;

// Appends n bytes from p (p may be NULL when n == 0). On error the buffer is
// unchanged.
lmic_status lmic_buf_append(lmic_buf *b, const void *p, size_t n);
// Makes room for at least `n` more bytes without changing size.
lmic_status lmic_buf_reserve(lmic_buf *b, size_t n);
// Frees the storage and empties the buffer. NULL-safe.
void lmic_buf_free(lmic_buf *b);

// ----------------------------------------------------------------------------
// Seeded pseudo-random numbers (splitmix64). Deterministic on every platform;
// the state is the caller's, so there is no hidden global generator.

uint64_t lmic_rng_next(uint64_t *state);

// ----------------------------------------------------------------------------
// Arithmetic coder: base 2, 32-bit state, carry ("underflow") handling and
// termination in the design of the paper's reference coder, driven by integer
// cumulative frequencies so that it is exact on every platform.
//
// A distribution over n symbols is given as a cumulative frequency table
// cdf[0..n] with cdf[0] = 0, cdf[i] < cdf[i+1] (every symbol has count >= 1)
// and total = cdf[n] <= LMIC_CODER_MAX_TOTAL. Symbol s owns the counts
// [cdf[s], cdf[s+1]). The coded length is within 8 bits (one end bit and the
// byte padding) of the ideal sum of -log2((cdf[s+1]-cdf[s]) / total), plus
// rounding: the state keeps a range of more than 2^30, so rounding costs at
// most total / 2^30 / ln 2 bits per symbol.
//
// The encoder writes bits most significant first; the decoder reads 1-bits
// past the end of its input, so the encoder drops trailing 0xFF bytes.
// Decoding needs to know how many symbols were coded (the stream has no end
// marker) and streams cannot be concatenated: the decoder reads up to 4 bytes
// ahead, so a container must store each stream's length. Every bit string
// decodes to *some* symbols: damage is not detected here, so a container must
// checksum the decoded data.
//
// Thread safety: one encoder or decoder per thread; they share nothing.

#define LMIC_CODER_MAX_TOTAL (1u << 24)
#define LMIC_CODER_MAX_SYMBOLS 65536

typedef struct lmic_encoder lmic_encoder;
typedef struct lmic_decoder lmic_decoder;

// Creates an encoder with an empty output. Returns NULL when out of memory.
lmic_encoder *lmic_encoder_new(void);
void lmic_encoder_free(lmic_encoder *enc);
// Codes symbol `sym` (0 <= sym < n) with the distribution `cdf` (n+1 entries).
// LMIC_ERR_ARG for an invalid table or symbol, or after finish; LMIC_ERR_NOMEM
// when the output cannot grow. On any error the encoder is unchanged.
lmic_status lmic_encoder_encode(lmic_encoder *enc, const uint32_t *cdf, int n, int sym);
// Terminates the code. After this call no more symbols may be encoded; a
// second finish is LMIC_ERR_ARG. LMIC_ERR_NOMEM leaves the encoder unchanged.
lmic_status lmic_encoder_finish(lmic_encoder *enc);
// The coded bytes so far (complete only after finish). The encoder owns them;
// they stay valid until the next call on `enc`.
const uint8_t *lmic_encoder_data(const lmic_encoder *enc, size_t *size);
// Resets to a fresh encoder with empty output, keeping the allocation.
void lmic_encoder_reset(lmic_encoder *enc);

// Creates a decoder reading `size` bytes at `data`; the caller keeps `data`
// alive and unchanged while the decoder is used. NULL when out of memory, or
// when data is NULL and size > 0.
lmic_decoder *lmic_decoder_new(const uint8_t *data, size_t size);
void lmic_decoder_free(lmic_decoder *dec);
// Decodes one symbol into *sym with the same table the encoder used.
// LMIC_ERR_ARG for an invalid table. (LMIC_ERR_CORRUPT is reserved for an
// impossible state, which normalisation rules out: see above.)
lmic_status lmic_decoder_decode(lmic_decoder *dec, const uint32_t *cdf, int n, int *sym);
// Number of input bytes the decoder has consumed so far (may exceed the input
// size: reads past the end return 1-bits).
size_t lmic_decoder_consumed(const lmic_decoder *dec);

// ----------------------------------------------------------------------------
// PCM tokenisation: integer samples <-> the byte stream a model sees.
//
// Samples are signed integers of `bits` bits (right-justified in int32_t,
// -2^(bits-1) <= x < 2^(bits-1)), interleaved by frame. Each sample becomes
// ceil(bits/8) bytes of unsigned offset binary (x + 2^(bits-1)), most
// significant byte first, so an 8-bit sample is the familiar unsigned byte
// and a 24-bit sample is 3 bytes.
//
// Layouts, within one block of frames (a chunk):
//   INTERLEAVE  L0 R0 L1 R1 ...
//   PLANAR      L0 L1 ... Ln R0 R1 ... Rn
//   CHANNEL     only channel `channel`: C0 C1 ... Cn
// mid_side (2 channels only) replaces (L, R) by (M, S) before the layout:
//   S = L - R,  M = R + (S >> 1)  (= floor((L + R) / 2), FLAC's mid/side),
// both wrapped to `bits` bits so that each stays one sample wide; the
// transform is a bijection on bits-bit pairs and therefore lossless.

typedef enum {
    LMIC_LAYOUT_INTERLEAVE = 0,
    LMIC_LAYOUT_PLANAR = 1,
    LMIC_LAYOUT_CHANNEL = 2,
} lmic_layout;

typedef struct {
    int channels;        // channels of the input frames, 1..LMIC_PCM_MAX_CHANNELS
    int bits;            // significant bits per sample, 1..32
    lmic_layout layout;
    int channel;         // the channel kept by LMIC_LAYOUT_CHANNEL
    int mid_side;        // nonzero: mid/side; needs channels == 2 (with CHANNEL,
                         // channel 0 is M and channel 1 is S)
} lmic_pcm_spec;

#define LMIC_PCM_MAX_CHANNELS 256

// Checks a spec. LMIC_ERR_ARG (with no detail) when it is inconsistent.
lmic_status lmic_pcm_check(const lmic_pcm_spec *spec);
// Bytes per sample: ceil(bits / 8).
int lmic_pcm_sample_bytes(const lmic_pcm_spec *spec);
// Bytes one frame occupies in the token stream (one sample for CHANNEL).
int lmic_pcm_frame_bytes(const lmic_pcm_spec *spec);
// Writes nframes frames (frames is (nframes, channels)) as tokens to `out`,
// which must hold nframes * lmic_pcm_frame_bytes(spec) bytes. Samples outside
// the bits range are wrapped (only the low `bits` bits are used).
lmic_status lmic_pcm_encode(const lmic_pcm_spec *spec, const int32_t *frames,
                            size_t nframes, uint8_t *out);
// The mid/side step alone, in place on n stereo frames ((n, 2) samples of
// `bits` bits): (L, R) -> (M, S), or back with `inverse`.
lmic_status lmic_pcm_mid_side(int32_t *frames, size_t n, int bits, int inverse);
// Inverse of lmic_pcm_encode for INTERLEAVE and PLANAR: reads
// nframes * frame_bytes bytes and writes frames (nframes, channels), sign-
// extended. For CHANNEL it writes the one kept channel, (nframes, 1).
lmic_status lmic_pcm_decode(const lmic_pcm_spec *spec, const uint8_t *in,
                            size_t nframes, int32_t *frames);

// ----------------------------------------------------------------------------
// Prediction: the lossless front end (src/predict.c). Before the model sees a
// chunk, each channel's samples x[t] become residuals
//   r[t] = x[t] - pred[t]   wrapped to `bits` bits (two's complement),
// so a residual is one sample wide and the map is a bijection whatever the
// prediction; restoring computes the same pred[t] from the samples already
// restored and unwraps. Integer arithmetic only (no float in apply/restore),
// so every build and CPU gives the same residuals (rule 1). Samples before
// the chunk's first frame count as 0: chunks stay independent.
//
// Predictors are chosen per chunk and channel by the encoder; their
// parameters are written at the start of the chunk's payload
// (lmic_pred_write) and cost bits there, so choosing weighs them.

typedef enum {
    LMIC_PRED_NONE = 0,     // pred = 0
    LMIC_PRED_FIXED = 1,    // FLAC's fixed polynomial predictor, order 1..4
    LMIC_PRED_LPC = 2,      // quantised linear prediction, coefficients stored:
                            // pred = (sum_k coef[k] * x[t-1-k]) >> shift
    LMIC_PRED_CASCADE = 3,  // backward-adaptive filter cascade (sign-sign /
                            // normalised LMS stages); nothing stored but its
                            // variant; channel c > 0 may use channel c-1
} lmic_pred_kind;

#define LMIC_PRED_MAX_ORDER 32

typedef struct {
    uint8_t kind;     // lmic_pred_kind
    uint8_t order;    // FIXED: 1..4; LPC: 1..LMIC_PRED_MAX_ORDER; CASCADE: variant
    uint8_t shift;    // LPC: coefficient scale, 0..31
    uint8_t stereo;   // CASCADE: 1 = also predicts from channel c-1's
                      // current and past samples (c > 0 only)
    int32_t coef[LMIC_PRED_MAX_ORDER];  // LPC: |coef| < 2^15
} lmic_pred;

// How hard lmic_pred_choose searches: fast tries fixed orders only; normal
// adds LPC (3 orders measured) and two cascade variants; high measures more
// LPC orders and every cascade variant, with and without stereo.
typedef enum { LMIC_PRED_EFFORT_FAST = 0, LMIC_PRED_EFFORT_NORMAL = 1, LMIC_PRED_EFFORT_HIGH = 2 } lmic_pred_effort;

// Chooses one predictor per channel (pred[channels]) for the n frames
// `frames` ((n, channels) samples, each within `bits` bits, 1 <= bits <= 32),
// minimising an estimate of the residuals' cost plus the parameters' bits.
// Deterministic (same input, same choice), but only the encoder calls it, so
// it may use floating point. LMIC_ERR_ARG, LMIC_ERR_NOMEM.
lmic_status lmic_pred_choose(const int32_t *frames, size_t n, int channels, int bits,
                             lmic_pred_effort effort, lmic_pred *pred);
// As lmic_pred_choose, among NONE and the kinds k whose bit (1u << k) is set
// in `kinds` (for measurements: "the best LPC", "the best cascade").
lmic_status lmic_pred_choose_among(const int32_t *frames, size_t n, int channels, int bits,
                                   lmic_pred_effort effort, unsigned kinds, lmic_pred *pred);

// Residuals of n frames under pred[channels]: res is (n, channels), like
// frames. LMIC_ERR_ARG for an invalid predictor or a sample outside `bits`
// bits. Thread-safe (no state outside the call); LMIC_ERR_NOMEM possible
// for a cascade (it allocates its state, about 50 KB).
lmic_status lmic_pred_apply(const lmic_pred *pred, const int32_t *frames, size_t n, int channels,
                            int bits, int32_t *res);
// Inverse of lmic_pred_apply: frames from residuals (res may not alias
// frames). Residuals outside `bits` bits are wrapped. Same errors.
lmic_status lmic_pred_restore(const lmic_pred *pred, const int32_t *res, size_t n, int channels,
                              int bits, int32_t *frames);

// Appends pred[channels] in the chunk-payload form of docs/format.md.
lmic_status lmic_pred_write(const lmic_pred *pred, int channels, lmic_buf *out);
// Parses pred[channels] from p[0..size); *used receives the bytes read.
// LMIC_ERR_CORRUPT for anything invalid or running past size.
lmic_status lmic_pred_read(const uint8_t *p, size_t size, int channels, lmic_pred *pred,
                           size_t *used);

// ----------------------------------------------------------------------------
// Compressors: one interface, bytes in and bytes out, for the classical
// codecs of the paper's Table 1 (and, later, the language-model compressor).
//
// Parameters describe how the bytes are to be read where the codec cares
// (FLAC and PNG); other codecs ignore them. `p` may be NULL for defaults.
// Decompressors accept exactly one stream: trailing bytes are an error.
// png cannot hold 0 bytes (LMIC_ERR_ARG); lzma2 decompression may return
// LMIC_ERR_UNSUPPORTED (1 GiB memory limit, unknown filter or check).

typedef struct {
    int sample_rate;   // FLAC: the stream's rate in Hz (0 = 16000)
    int channels;      // FLAC: interleaved channels in the bytes (0 = 1)
    int bits;          // FLAC: 8 (one unsigned byte per sample) or 16 (two bytes,
                       // offset binary, most significant first) (0 = 8)
    int level;         // codec level; 0 = the codec's default in lmic (see .c)
} lmic_codec_params;

typedef struct {
    const char *name;         // "gzip", "lzma2", "lzma2-9e", "png", "flac"
    const char *description;  // one line, e.g. "zlib deflate level 9, gzip framing"
    // Compresses n bytes at `in`, appending to `out`. On error `out` keeps
    // what it had before the call (its size is restored).
    lmic_status (*compress)(const uint8_t *in, size_t n, const lmic_codec_params *p,
                            lmic_buf *out);
    // Decompresses n bytes at `in`, appending to `out`. Damaged input gives
    // LMIC_ERR_CORRUPT or LMIC_ERR_FORMAT, never a crash.
    lmic_status (*decompress)(const uint8_t *in, size_t n, const lmic_codec_params *p,
                              lmic_buf *out);
} lmic_codec;

// The codec called `name`, or NULL.
const lmic_codec *lmic_codec_find(const char *name);
// All codecs; *count receives their number.
const lmic_codec *lmic_codec_all(int *count);

// ----------------------------------------------------------------------------
// The model: a decoder-only transformer over the 256 byte values, as the
// paper's reference (transformer.py): input right-shifted with a BOS of 0;
// embeddings * sqrt(C) plus sinusoidal positions (max timescale 1e4), or rotary
// positions on queries and keys; causal multi-head attention without biases;
// post-LN (h = LN(h + attn(h)); h = LN(h + ffn(h))) or pre-LN; feed-forward
// C -> widening*C -> C with biases and GELU (tanh form, as jax.nn.gelu);
// a final linear layer with bias to 256 logits; log-softmax.
//
// Determinism (rule 1): every probability is computed with the same float32
// operations in the same order whatever the batch size, thread count, build
// or CPU: no libm in this path (lmic's own exp/log/tanh), reductions in one
// fixed order, threads only over independent outputs. The whole-sequence and
// the incremental (KV cache) paths give bit-identical results.

#define LMIC_VOCAB 256

typedef enum { LMIC_POS_SINUSOIDAL = 0, LMIC_POS_ROTARY = 1 } lmic_positions;
typedef enum { LMIC_NORM_POST = 0, LMIC_NORM_PRE = 1 } lmic_norm;

typedef struct {
    int d_model;    // C, the embedding width
    int n_layers;   // L
    int n_heads;    // NH; d_model % n_heads == 0 (rotary: head size even)
    int widening;   // feed-forward hidden width = widening * d_model
    int context;    // T_max, the longest sequence the model is run on
    int positions;  // lmic_positions
    int norm;       // lmic_norm
} lmic_model_config;

// Fills *cfg with a preset: "dm-default" (C64 L4 NH8, 231,936 parameters, the
// reference's), "200k" (C64 L4 NH4), "800k" (C128 L4 NH4), "3.2m" (C256 L4
// NH8); all widening 4, context 2048, sinusoidal, post-LN.
// LMIC_ERR_ARG for an unknown name.
lmic_status lmic_model_preset(const char *name, lmic_model_config *cfg);
// LMIC_OK if the config is usable (dimensions in range, heads divide C, ...).
lmic_status lmic_model_config_check(const lmic_model_config *cfg);
// Number of float parameters a config has.
size_t lmic_model_config_params(const lmic_model_config *cfg);

typedef struct lmic_model lmic_model;

// A randomly initialised model, as the reference's initialisers: embeddings
// truncated normal (std 0.02), linear weights truncated normal (std
// 1/sqrt(fan_in)), biases 0, layer-norm scales 1 and offsets 0. The same seed
// gives the same weights on every machine.
lmic_status lmic_model_new_random(const lmic_model_config *cfg, uint64_t seed, lmic_model **out);
// Reads a model file held in memory (docs/format.md). LMIC_ERR_FORMAT for a
// foreign or unsupported file, LMIC_ERR_CORRUPT for a bad checksum or
// inconsistent contents. The caller keeps `data`; the model copies what it
// needs.
lmic_status lmic_model_load(const uint8_t *data, size_t size, lmic_model **out);
// Appends the model file to `out`; `f16` stores the weights as float16 (the
// loaded model then differs from this one: its fingerprint says so).
lmic_status lmic_model_save(const lmic_model *m, int f16, lmic_buf *out);
void lmic_model_free(lmic_model *m);
const lmic_model_config *lmic_model_get_config(const lmic_model *m);
size_t lmic_model_num_params(const lmic_model *m);
// The model's fingerprint: MD5 of its config and float32 weights, as 32 hex
// digits and a NUL. Compressed files record it.
void lmic_model_fingerprint(const lmic_model *m, char hex[33]);

// Whole-sequence forward pass over B independent sequences.
// tokens is (B, T) with 1 <= T <= context; logp (B, T, 256) receives
// log p(tokens[b, t] = v | tokens[b, <t]) for every v. `threads` >= 1 (the
// result does not depend on it). LMIC_ERR_NOMEM, LMIC_ERR_ARG.
// Thread safety: any number of threads may run forward passes on one model.
lmic_status lmic_model_forward(const lmic_model *m, const uint8_t *tokens, int B, int T,
                               int threads, float *logp);

// Incremental decoding with a KV cache, B sequences in step.
typedef struct lmic_stepper lmic_stepper;
// NULL when out of memory or B < 1. The stepper borrows m: keep it alive.
lmic_stepper *lmic_stepper_new(const lmic_model *m, int B);
void lmic_stepper_free(lmic_stepper *s);
// Starts B new sequences (position 0).
void lmic_stepper_reset(lmic_stepper *s);
// Advances one position: `prev` (B,) holds the tokens at the previous
// position (ignored at position 0, where the input is BOS). logp (B, 256)
// receives the distribution of the token at the current position, identical
// bit for bit to lmic_model_forward's row for that position.
// LMIC_ERR_ARG once the context is full.
lmic_status lmic_stepper_step(lmic_stepper *s, const uint8_t *prev, int threads, float *logp);
// The position the next step will predict (0 after reset).
int lmic_stepper_pos(const lmic_stepper *s);

// ----------------------------------------------------------------------------
// Probabilities -> integer CDF for the coder. Deterministic: count(v) =
// 1 + floor(exp(logp[v]) * LMIC_CDF_SCALE), with lmic's own exp, so every
// symbol has at least one count and the total stays below
// LMIC_CODER_MAX_TOTAL. cdf has 257 entries; returns the total.

#define LMIC_CDF_SCALE (1u << 23)

uint32_t lmic_cdf_from_logp(const float *logp, uint32_t *cdf);

// lmic's own float32 exp and log: the same bits on every build and CPU.
// Accurate to about 2 ulp on the ranges the model uses.
float lmic_expf(float x);
float lmic_logf(float x);

// ----------------------------------------------------------------------------
// MD5 (RFC 1321), for fingerprints and sample checksums.

typedef struct {
    uint32_t h[4];
    uint64_t len;
    uint8_t buf[64];
} lmic_md5;

void lmic_md5_init(lmic_md5 *c);
void lmic_md5_update(lmic_md5 *c, const void *data, size_t n);
void lmic_md5_final(lmic_md5 *c, uint8_t digest[16]);

// ----------------------------------------------------------------------------
// Training (src/train/; the decoder never links it): forward and backward
// passes over batches, Adam, a seeded batch sampler and checkpoints, in C,
// llm.c-style.
//
// The loss is the paper's: each sequence's summed log-loss normalised by its
// length T (the mean of -ln p(byte) over its positions), averaged over the B
// sequences of the batch -- equivalently the mean of -ln p over all B*T
// positions; gradients are of exactly this quantity. Divide by ln 2 for bits
// per byte.
//
// Determinism: the same initial model, config, batches and number of steps
// give the same weights bit for bit, whatever the thread count: threads split
// only independent outputs, every sum runs in one fixed order, and exp, log,
// GELU and cosine are lmic's own. A checkpoint carries everything that
// decides the next step (weights, Adam's moments, the step count, the
// sampler's state), so a resumed run reaches the uninterrupted run's weights.
//
// Thread safety: one trainer per thread; a trainer shares nothing.

typedef struct {
    int batch;             // B, sequences per step (default 32)
    int seq;               // T, bytes per sequence, 1 .. the model's context (2048)
    int threads;           // >= 1 (1); the results do not depend on it
    float lr;              // peak learning rate (1e-4, the paper's)
    float beta1, beta2;    // Adam's decay rates (0.9, 0.999)
    float eps;             // Adam's epsilon (1e-8)
    int64_t warmup;        // updates of linear warm-up, lr (k+1)/warmup (0 = none)
    int64_t cosine_steps;  // > warmup: cosine decay from lr to 0 at this update (0 = constant)
    float clip;            // > 0: scale the gradient so its global L2 norm <= clip (0 = off)
    uint64_t seed;         // the batch sampler's seed
} lmic_train_config;

// What one step did.
typedef struct {
    double loss;       // the batch's loss before the update (nats per byte)
    double grad_norm;  // the gradient's global L2 norm, before clipping
    float lr;          // the learning rate the update used
} lmic_train_stats;

typedef struct lmic_trainer lmic_trainer;

// Fills *tc with the defaults above.
void lmic_train_config_default(lmic_train_config *tc);
// A trainer for a copy of `init` (the caller keeps init; it may be freed at
// once). LMIC_ERR_ARG for an inconsistent config (seq > context, ...),
// LMIC_ERR_NOMEM. Memory: activations grow with batch * seq * (16 C + 2 F +
// 256) floats, with F = widening * C; attention keeps no (T, T) matrix.
lmic_status lmic_trainer_new(const lmic_model *init, const lmic_train_config *tc,
                             lmic_trainer **out);
void lmic_trainer_free(lmic_trainer *t);
const lmic_train_config *lmic_trainer_get_config(const lmic_trainer *t);
// Updates done so far (checkpoints keep the count).
int64_t lmic_trainer_step_count(const lmic_trainer *t);

// One training step on tokens (batch, seq): forward, backward, optional
// clipping, one Adam update. stats may be NULL.
lmic_status lmic_trainer_step(lmic_trainer *t, const uint8_t *tokens, lmic_train_stats *stats);
// The loss and its gradient on tokens (batch, seq), without an update.
// *grads (may be NULL) points to num_params floats in the model file's
// parameter order (docs/format.md), owned by the trainer and valid until its
// next call.
lmic_status lmic_trainer_gradients(lmic_trainer *t, const uint8_t *tokens, double *loss,
                                   const float **grads);
// The model being trained: a normal model (forward, save, score). Owned by
// the trainer; valid until the trainer is freed, its weights change with
// every step.
const lmic_model *lmic_trainer_model(lmic_trainer *t);

// Fills tokens (batch, seq) with `batch` windows of seq consecutive bytes
// drawn uniformly, with replacement, from all windows that lie inside one
// segment of `data`: segment i is data[seg_end[i-1] .. seg_end[i]) (seg_end[-1]
// = 0), so windows never straddle two files, and start a multiple of
// seg_align[i] (>= 1; a frame's bytes, say) after segment i's start (seg_align
// NULL: anywhere). Uses and advances the trainer's sampler state (seeded by
// the config's seed, kept in checkpoints). LMIC_ERR_ARG when no segment holds
// a window.
lmic_status lmic_trainer_sample(lmic_trainer *t, const uint8_t *data, const size_t *seg_end,
                                const size_t *seg_align, size_t nseg, uint8_t *tokens);

// Appends a checkpoint (docs/format.md: the config, step, sampler state, the
// model file and Adam's moments, with a CRC-32) to out.
lmic_status lmic_trainer_save(lmic_trainer *t, lmic_buf *out);
// A trainer from a checkpoint held in memory, running on `threads` threads
// (which need not be the saving run's). LMIC_ERR_FORMAT for a foreign file,
// LMIC_ERR_UNSUPPORTED for an unknown version, LMIC_ERR_CORRUPT for a bad
// checksum or inconsistent contents (nothing is trusted before the CRC).
lmic_status lmic_trainer_load(const uint8_t *data, size_t size, int threads, lmic_trainer **out);

// ----------------------------------------------------------------------------
// Language-model compression (src/lmcodec.c): the paper's LM compressor.
//
// A chunk is 1 .. context tokens, coded alone from a fresh context (BOS at
// its start): the model's log-probabilities become integer CDFs
// (lmic_cdf_from_logp) that drive the arithmetic coder. The encoder scores
// whole chunks at once (lmic_model_forward, chunks of equal length batched);
// the decoder steps every chunk of a call through one KV-cache stepper, one
// position at a time. The library guarantees that both paths give the same
// float bits (rule 1), so the decoder rebuilds the encoder's CDFs exactly.
// A chunk whose code would be no shorter than its tokens is stored raw
// instead (LMIC_CHUNK_RAW), so no chunk ever grows.
//
// The coded stream carries no length and no checksum: the container records
// each chunk's token count, payload size and mode, and checksums the tokens.
// A damaged payload decodes to wrong tokens, never to a crash.
//
// Thread safety: any number of calls may share one model. `threads` >= 1
// splits each forward pass or step; the output does not depend on it.

typedef enum { LMIC_CHUNK_LM = 0, LMIC_CHUNK_RAW = 1 } lmic_chunk_mode;

// Chunks the decoder steps together (one stepper lane each) per batch.
#define LMIC_LM_BATCH 16
// An audio chunk coded by the model is cut into segments of this many
// windows, each its own stream, so that the decoder steps a long chunk's
// segments side by side (src/audiocodec.c; docs/format.md).
#define LMIC_LM_SEGMENT_WINDOWS 64

// How the model reads a chunk: in windows of `window` tokens, its context
// restarting at each; every window but a chunk's first re-reads the last
// `overlap` tokens before it (context that costs time, not bits).
// 1 <= window, overlap <= window, window + overlap <= the model's context.
typedef struct {
    size_t window;
    size_t overlap;
} lmic_lm_windows;

// Mixing (NULL: none): when the tokens are residual tokens of audio, the
// model's probabilities may be mixed with the plain coder's adaptive model
// (src/mixer.c; docs/format.md "Mixed stream"). Stream i is then the tokens
// start[i] .. start[i] + len[i] - 1 of a chunk of frames[i] frames,
// tokenised by `spec` (mid_side ignored).
typedef struct {
    lmic_pcm_spec spec;
    const size_t *frames;
    const size_t *start;
} lmic_lm_mix;

// Codes n chunks (tokens holds them one after another, len[i] >= 1 tokens
// each, any length): chunk i becomes one arithmetic-coded stream of size[i]
// bytes, appended to `out`. `mix` may be NULL. LMIC_ERR_ARG, LMIC_ERR_NOMEM;
// on error `out` keeps what it had before the call.
lmic_status lmic_lm_encode(const lmic_model *m, const lmic_lm_windows *w, const lmic_lm_mix *mix,
                           const uint8_t *tokens, const size_t *len, size_t n, int threads,
                           lmic_buf *out, size_t *size);
// Inverse of lmic_lm_encode: code[i] points at chunk i's stream of size[i]
// bytes; its len[i] tokens are written to `tokens`, one chunk after another.
// Chunks are decoded LMIC_LM_BATCH at a time in one stepper. A damaged
// stream decodes to wrong tokens (the container's CRCs catch them), never
// to a crash.
lmic_status lmic_lm_decode(const lmic_model *m, const lmic_lm_windows *w, const lmic_lm_mix *mix,
                           const uint8_t *const *code, const size_t *size, const size_t *len, size_t n,
                           int threads, uint8_t *tokens);

// The paper's setting, on lmic_lm_encode with one window per chunk:
// compresses n chunks. tokens holds the chunks one after another; len[i]
// (1 .. the model's context) is chunk i's token count. Each chunk's payload
// is appended to `out` in order; size[i] receives its byte count and mode[i]
// its lmic_chunk_mode (a raw payload is the tokens themselves).
// LMIC_ERR_ARG for a bad length, LMIC_ERR_NOMEM. On error `out` keeps what
// it had before the call.
lmic_status lmic_lm_compress(const lmic_model *m, const uint8_t *tokens, const size_t *len,
                             size_t n, int threads, lmic_buf *out, size_t *size, uint8_t *mode);

// Inverse of lmic_lm_compress: payload holds the n payloads one after
// another (size[i] bytes each, mode[i] as compressed); chunk i's len[i]
// tokens are written to `tokens`, one chunk after another. Chunks in LM mode
// are decoded LMIC_LM_BATCH at a time in one stepper. LMIC_ERR_CORRUPT when
// a raw chunk's size is not its length; LMIC_ERR_ARG, LMIC_ERR_NOMEM.
lmic_status lmic_lm_decompress(const lmic_model *m, const uint8_t *payload, const size_t *size,
                               const uint8_t *mode, const size_t *len, size_t n, int threads,
                               uint8_t *tokens);

// ----------------------------------------------------------------------------
// The plain coder (src/plaincoder.c): predictor residuals coded without the
// model, by an adaptive context coder (the bit length of each zig-zagged
// residual from a table chosen by the channel's recent magnitude, the two
// bits after the leading one adaptively, the rest as they are; docs/format.md
// "Plain stream"). Fast, integer-only, and the bar the model must clear.
// Its state starts afresh with every call.

// Codes n frames of residuals (res is (n, channels), each within `bits`
// bits, 1 <= bits <= 32) as one arithmetic-coded stream appended to `out`;
// *size receives its length. LMIC_ERR_ARG, LMIC_ERR_NOMEM (then `out` keeps
// what it had).
lmic_status lmic_plain_encode(const int32_t *res, size_t n, int channels, int bits, lmic_buf *out,
                              size_t *size);
// Inverse: decodes n frames into res ((n, channels)). A damaged stream
// decodes to wrong residuals (within `bits` bits), never to a crash.
lmic_status lmic_plain_decode(const uint8_t *code, size_t size, size_t n, int channels, int bits,
                              int32_t *res);

// ----------------------------------------------------------------------------
// Audio chunks (src/audiocodec.c): PCM frames -> predictor residuals -> tokens
// -> the LM coder, and back. Each chunk is independent. A coded chunk's
// payload is its predictors' parameters (lmic_pred_write, one per channel),
// a byte naming its coder (0 the model, 1 the plain coder, 2 both mixed) and
// the coded stream of its residuals (the model codes their tokens); a chunk that would
// not shrink is stored as its sample tokens (LMIC_CHUNK_RAW). With
// spec.mid_side the predictors run on (M, S) and the residuals are tokenised
// without a second mid/side. The decoder
// needs the same params (the container records them).

typedef struct {
    lmic_pcm_spec spec;       // tokenisation (of residuals, and of raw chunks);
                              // LMIC_LAYOUT_CHANNEL only with 1 channel
    lmic_lm_windows windows;  // how the model reads a chunk
    int adapt;                // encoder only: 0, or online adaptation (an
                              // lmic_adapt_byte); each chunk's payload records
                              // it, so the decoder needs nothing here
} lmic_audio_params;

// Online adaptation (docs/format.md "Online adaptation"): a chunk the model
// codes may adapt it as it goes. After each of the chunk's segments but the
// last, a trainer (the model's copy, fresh Adam moments per chunk) takes
// `steps` Adam steps at learning rate 2^-lr_shift on that segment's windows,
// so the next segment is coded by the updated weights; the decoder repeats
// the same steps on the same decoded tokens (training is deterministic on
// every build and thread count: src/train/). The byte that records it:
// steps (1 .. 15) in the low 4 bits, lr_shift - 6 (0 .. 15) in the high 4.
#define LMIC_ADAPT_STEPS_DEFAULT 1
#define LMIC_ADAPT_LR_SHIFT_DEFAULT 12
static inline int lmic_adapt_byte(int steps, int lr_shift) {
    return steps >= 1 && steps <= 15 && lr_shift >= 6 && lr_shift <= 21 ? (lr_shift - 6) << 4 | steps : -1;
}

// Which coder codes a chunk's residuals: the model alone (LM), the plain
// coder (PLAIN), the model mixed with the plain coder's model (MIX), or
// (AUTO) chunk by chunk MIX where it is at least 1/512 shorter than PLAIN,
// else PLAIN. PLAIN never runs the model, so it is many times faster.
typedef enum {
    LMIC_ENTROPY_AUTO = 0,
    LMIC_ENTROPY_LM = 1,
    LMIC_ENTROPY_PLAIN = 2,
    LMIC_ENTROPY_MIX = 3,
} lmic_entropy;

// Compresses n chunks: frames holds them one after another, chunk i being
// nframes[i] >= 1 frames ((nframes[i], channels) samples within spec.bits
// bits). `predict` is an lmic_pred_effort, or -1 for no predictor; `coder`
// an lmic_entropy. Payloads are appended to `out`; size[i] and mode[i]
// receive each chunk's byte count and lmic_chunk_mode. On error `out` keeps
// what it had.
lmic_status lmic_audio_compress(const lmic_model *m, const lmic_audio_params *p, int predict, int coder,
                                const int32_t *frames, const size_t *nframes, size_t n, int threads,
                                lmic_buf *out, size_t *size, uint8_t *mode);
// Parses the head of a coded chunk's payload (size bytes): its predictors
// (pred[channels]) and its coder (*coder: 0 the model, 1 the plain coder,
// 2 the model mixed with the plain coder's model, 3 and 4 as 0 and 2 with
// online adaptation, whose byte is the head's last);
// *used receives the head's length, after which the coded stream starts.
// LMIC_ERR_CORRUPT for a damaged head (the stream after it may be empty).
lmic_status lmic_audio_chunk_head(const uint8_t *payload, size_t size, int channels, lmic_pred *pred,
                                  int *coder, size_t *used);
// Inverse: payload holds the n payloads one after another; the frames are
// written to `frames`. LMIC_ERR_CORRUPT for a payload that cannot be parsed
// (a damaged stream instead decodes to wrong samples: check the CRCs).
lmic_status lmic_audio_decompress(const lmic_model *m, const lmic_audio_params *p,
                                  const uint8_t *payload, const size_t *size, const uint8_t *mode,
                                  const size_t *nframes, size_t n, int threads, int32_t *frames);

// CRC-32 (zlib's polynomial) of n bytes, continuing from `crc` (start at 0).
uint32_t lmic_crc32(uint32_t crc, const void *data, size_t n);

// ----------------------------------------------------------------------------
// The .lmic container (src/container.c; docs/format.md, ".lmic file"): a
// header that says how to rebuild the source file, a chunk index, a CRC-32
// over both, then the chunk payloads. This part reads and writes the header
// and index only; tools/ does the audio.

#define LMIC_FILE_VERSION 6
// The longest model window a file may ask for, in tokens.
#define LMIC_FILE_MAX_WINDOW (1u << 20)

// How the source's audio was turned into tokens.
typedef enum {
    LMIC_SOURCE_WAV = 0,        // a WAV file, restored byte for byte
    LMIC_SOURCE_CONVERTED = 1,  // another format (FLAC, AIFF, ...): restored as WAV
} lmic_source_kind;

// One index entry: one LM-coded chunk, or a run of `count` consecutive raw
// chunks (runs keep incompressible data within a few bytes of its size).
typedef struct {
    uint32_t count;   // chunks in this entry: 1 for LMIC_CHUNK_LM, >= 1 for raw
    uint8_t mode;     // lmic_chunk_mode
    uint64_t size;    // payload bytes
    uint32_t crc;     // CRC-32 of the entry's payload bytes followed by its tokens
} lmic_index_entry;

#define LMIC_WAV_CANONICAL_SIZE 44  // bytes of the canonical WAV header (below)

typedef struct {
    uint8_t model[16];        // fingerprint of the model that coded the chunks
    uint32_t sample_rate;     // Hz
    uint32_t channels;        // 1 .. LMIC_PCM_MAX_CHANNELS
    uint32_t bits;            // bits per sample of the restored WAV: 8, 16, 24, 32
    uint32_t is_float;        // 1: IEEE float32 samples (bits 32)
    uint64_t frames;          // frames of audio
    uint32_t source;          // lmic_source_kind
    uint32_t depth;           // 0: native; 8: reduced to 8 bits (lossy: the
                              // restored WAV is 8-bit)
    uint32_t src_bits;        // the source's bits per sample before reduction
    lmic_pcm_spec spec;       // tokenisation (spec.bits = bits)
    uint32_t frames_per_chunk;
    uint32_t window, overlap; // lmic_lm_windows: how the model reads a chunk
    uint8_t md5[16];          // MD5 of the restored WAV's sample bytes
    uint64_t prefix_size;     // WAV bytes before the sample bytes
    uint64_t suffix_size;     // WAV bytes after them
    const uint8_t *prefix, *suffix;  // (write: the caller's; read: point into
                                     // the caller's data, or prefix to wav_header)
    uint8_t wav_header[LMIC_WAV_CANONICAL_SIZE];  // read: the canonical WAV header, when the file
                              // stores it as a flag (do not copy fi and keep
                              // using the copy's prefix)
    uint64_t nentries;
    lmic_index_entry *entry;  // (write: the caller's; read: allocated, free
                              // with lmic_file_info_free)
} lmic_file_info;

// The canonical 44-byte WAV header (PCM, or IEEE float when is_float) for
// `frames` frames: what lmic writes for a converted source, and what a file
// stores as one byte instead of 44. The pad byte after an odd payload is the
// caller's. LMIC_ERR_ARG when the audio does not fit a WAV file.
lmic_status lmic_wav_canonical_header(uint32_t rate, uint32_t channels, uint32_t bits,
                                      uint32_t is_float, uint64_t frames,
                                      uint8_t h[LMIC_WAV_CANONICAL_SIZE]);

// Number of chunks (ceil(frames / frames_per_chunk)) and their token count.
uint64_t lmic_file_chunks(const lmic_file_info *fi);
size_t lmic_file_chunk_tokens(const lmic_file_info *fi, uint64_t chunk);

// Appends the header and index (without payloads) to out.
// LMIC_ERR_ARG for inconsistent fields (the entries must cover every chunk).
lmic_status lmic_file_write_header(const lmic_file_info *fi, lmic_buf *out);
// Parses the header and index at the start of data[0..size). *header_size
// receives their length (payloads start there). Checks the magic, version,
// header CRC and consistency (counts, sizes that fit in `size`) before
// anything is trusted. LMIC_ERR_FORMAT: not an .lmic file; LMIC_ERR_UNSUPPORTED:
// a newer version; LMIC_ERR_CORRUPT: damaged or truncated header, index or
// payload area. On success the caller frees fi with lmic_file_info_free.
lmic_status lmic_file_read_header(const uint8_t *data, size_t size, lmic_file_info *fi,
                                  size_t *header_size);
// Frees what lmic_file_read_header allocated. NULL-safe.
void lmic_file_info_free(lmic_file_info *fi);

#ifdef __cplusplus
}
#endif
#endif  // LMIC_H
