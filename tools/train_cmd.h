// train_cmd.h -- `lmic train`: trains a model on any data the loaders read.
#ifndef LMIC_TRAIN_CMD_H
#define LMIC_TRAIN_CMD_H

// argv[0] is the program, argv[1] "train"; parses its own options. Returns
// the exit status (0 success, 1 failure, 2 usage error); may exit on error.
int cmd_train(int argc, char **argv);

#endif
