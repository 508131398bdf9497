// The eplb command-line tool.
#include "app.h"

int main(int argc, char** argv) { return eplb::cli::run_cli(argc, argv); }
