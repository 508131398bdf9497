#pragma once
// Exception types thrown by eplb: every failure the library reports is one of these.

#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace eplb {

/// Base of every exception eplb throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown for bad shapes, sizes, divisibility, non-finite or negative loads and misuse of an API.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// Thrown for the size conditions DeepSeek's `rebalance_experts` asserts (num_replicas a multiple
/// of num_gpus and at least num_experts; on the hierarchical path, num_experts a multiple of
/// num_groups and num_gpus a multiple of num_nodes). Python raises it as eplb.InvalidSizes, both a
/// ValueError and an AssertionError, so code written around the reference still catches it.
class InvalidSizes : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Thrown when a file's content is malformed; the message names the file and the location.
class ParseError : public Error {
 public:
  using Error::Error;
};

/// Thrown when a file cannot be opened, read or written; the message names the file. The errno
/// of the failed call and the path travel with it (the Python module raises FileNotFoundError,
/// PermissionError, ... from them).
class IoError : public Error {
 public:
  using Error::Error;
  IoError(const std::string& what, int error_number, std::string path)
      : Error(what), error_number_(error_number), path_(std::move(path)) {}

  /// The errno of the failed call; 0 when none applies.
  int error_number() const noexcept { return error_number_; }
  /// The file that could not be read or written; empty when not known.
  const std::string& path() const noexcept { return path_; }

 private:
  int error_number_ = 0;
  std::string path_;
};

/// Thrown when a caller's stop check (RebalanceOptions::should_stop) asks a long call to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

/// Thrown when memory runs out while a file is read or written: a std::bad_alloc (Python's
/// MemoryError) whose message says what was being built, e.g. `read_trace: big.npy: out of
/// memory building a trace of 800000000 values`.
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(const std::string& message) : message_(message) {}
  const char* what() const noexcept override { return message_.what(); }

 private:
  std::runtime_error message_;  // copies without throwing, as an exception must
};

}  // namespace eplb
