// The eplb command-line tool.
#include "app.h"
#include "report.h"

int main(int argc, char** argv) {
  const int code = eplb::cli::run_cli(argc, argv);
  // A report lost to a full disk or /dev/full is a failure too (run_cli leaves stdout open for
  // the fuzzer, which calls it again).
  const int closed = eplb::cli::close_stdout();
  return code != 0 ? code : closed;
}
