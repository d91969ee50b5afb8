// pred_cmd.h -- `lmic predict-stats`: residual sizes of each predictor.
#ifndef LMIC_PRED_CMD_H
#define LMIC_PRED_CMD_H

// Takes main's argc/argv (argv[1] is the command); returns the exit status.
int cmd_predict_stats(int argc, char **argv);

#endif
