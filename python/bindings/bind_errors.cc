// eplb.Error and its subclasses, and the translation of the C++ exceptions into them.

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>

#include "bindings.h"
#include "eplb/error.h"

namespace eplb::python {
namespace {

/// The Python classes of the eplb::Error hierarchy; kept alive by the module's attributes.
struct ErrorTypes {
  PyObject* error = nullptr;
  PyObject* invalid_argument = nullptr;
  PyObject* invalid_sizes = nullptr;
  PyObject* parse_error = nullptr;
  PyObject* io_error = nullptr;
  // IoError subclasses that are also the OSError subclass Python raises for their errno.
  PyObject* file_not_found = nullptr;
  PyObject* permission = nullptr;
  PyObject* is_a_directory = nullptr;
  PyObject* not_a_directory = nullptr;
};

// Raises the IoError class for `error`'s errno, with errno, strerror and filename set as
// OSError's own constructor sets them; the message stays the core's (it names the call).
void raise_io_error(const ErrorTypes& types, const IoError& error) {
  const int number = error.error_number();
  PyObject* type = types.io_error;
  if (number == ENOENT) type = types.file_not_found;
  if (number == EACCES || number == EPERM) type = types.permission;
  if (number == EISDIR) type = types.is_a_directory;
  if (number == ENOTDIR) type = types.not_a_directory;
  const std::string_view what = error.what();
  const nb::object message = nb::steal(PyUnicode_DecodeUTF8(
      what.data(), static_cast<Py_ssize_t>(what.size()), "backslashreplace"));
  if (!message.is_valid()) return;  // that error stands
  const nb::object instance = nb::steal(PyObject_CallOneArg(type, message.ptr()));
  if (!instance.is_valid()) return;
  // The attributes are plain members of OSError: setting them fails only without memory.
  if (number != 0) {
    const std::string text = std::generic_category().message(number);
    const nb::object strerror = nb::steal(PyUnicode_FromString(text.c_str()));
    const nb::object errno_value = nb::steal(PyLong_FromLong(number));
    if (!strerror.is_valid() || !errno_value.is_valid() ||
        PyObject_SetAttrString(instance.ptr(), "errno", errno_value.ptr()) != 0 ||
        PyObject_SetAttrString(instance.ptr(), "strerror", strerror.ptr()) != 0) {
      return;
    }
  }
  if (!error.path().empty()) {
    const nb::object filename = nb::steal(PyUnicode_DecodeFSDefault(error.path().c_str()));
    if (!filename.is_valid() ||
        PyObject_SetAttrString(instance.ptr(), "filename", filename.ptr()) != 0) {
      return;
    }
  }
  PyErr_SetObject(type, instance.ptr());
}

nb::object new_exception(const char* name, const char* doc, nb::handle bases) {
  PyObject* type = PyErr_NewExceptionWithDoc(name, doc, bases.ptr(), nullptr);
  if (type == nullptr) throw nb::python_error();
  return nb::steal(type);
}

void translate(const std::exception_ptr& exception, void* payload) {
  const auto* types = static_cast<const ErrorTypes*>(payload);
  try {
    std::rethrow_exception(exception);
  } catch (const InvalidSizes& e) {
    PyErr_SetString(types->invalid_sizes, e.what());
  } catch (const InvalidArgument& e) {
    PyErr_SetString(types->invalid_argument, e.what());
  } catch (const ParseError& e) {
    PyErr_SetString(types->parse_error, e.what());
  } catch (const IoError& e) {
    raise_io_error(*types, e);
  } catch (const Cancelled& e) {
    // A SignalPoll that stopped the call raised its KeyboardInterrupt already (without_gil).
    PyErr_SetString(types->error, e.what());
  } catch (const Error& e) {
    PyErr_SetString(types->error, e.what());
  }
}

}  // namespace

void bind_errors(nb::module_& m) {
  // Python names them eplb.X, where users import them from. Each subclass also derives from the
  // built-in exception a Python caller would catch for it, so `except ValueError` works.
  nb::object error = new_exception("eplb.Error", "Base of every exception eplb raises on purpose.",
                                   PyExc_Exception);
  nb::object invalid_argument = new_exception(
      "eplb.InvalidArgument",
      "Raised for bad shapes, sizes, divisibility, non-finite or negative loads and misuse of an "
      "API; also a ValueError.",
      nb::make_tuple(error, nb::handle(PyExc_ValueError)));
  // DeepSeek's rebalance_experts checks these sizes with assert, and callers written around it
  // (vLLM's tests among them) catch AssertionError.
  nb::object invalid_sizes = new_exception(
      "eplb.InvalidSizes",
      "Raised for the size conditions DeepSeek's rebalance_experts asserts: num_replicas a "
      "multiple of num_gpus and at least num_experts, and on its hierarchical path num_experts a "
      "multiple of num_groups and num_gpus a multiple of num_nodes. An InvalidArgument (so a "
      "ValueError) and also an AssertionError, as the reference raises.",
      nb::make_tuple(invalid_argument, nb::handle(PyExc_AssertionError)));
  nb::object parse_error = new_exception(
      "eplb.ParseError",
      "Raised when a file's content is malformed; the message names the file and the location. "
      "Also a ValueError.",
      nb::make_tuple(error, nb::handle(PyExc_ValueError)));
  nb::object io_error = new_exception(
      "eplb.IoError",
      "Raised when a file cannot be opened, read or written; the message names the file. Also an "
      "OSError, with `errno`, `strerror` and `filename` set; a missing file raises "
      "FileNotFoundIoError (also a FileNotFoundError), a forbidden one PermissionIoError (also a "
      "PermissionError).",
      nb::make_tuple(error, nb::handle(PyExc_OSError)));
  // OSError's str() is "[Errno 2] No such file or directory: 'x'" once errno is set; the
  // message, which names the call, stays what str() shows.
  io_error.attr("__str__") = nb::handle(PyExc_BaseException).attr("__str__");
  const auto io_subclass = [&](const char* name, const char* doc, PyObject* os_error) {
    nb::object type = new_exception(name, doc, nb::make_tuple(io_error, nb::handle(os_error)));
    m.attr(std::strchr(name, '.') + 1) = type;
    return type.release().ptr();
  };
  m.attr("Error") = error;
  m.attr("InvalidArgument") = invalid_argument;
  m.attr("InvalidSizes") = invalid_sizes;
  m.attr("ParseError") = parse_error;
  m.attr("IoError") = io_error;

  // The translator outlives the module's attributes, so the payload owns a reference to each
  // class; both live until the interpreter exits, like nb::exception's.
  auto* types = new ErrorTypes{
      .error = error.release().ptr(),
      .invalid_argument = invalid_argument.release().ptr(),
      .invalid_sizes = invalid_sizes.release().ptr(),
      .parse_error = parse_error.release().ptr(),
      .io_error = io_error.ptr(),
      .file_not_found = io_subclass(
          "eplb.FileNotFoundIoError",
          "The IoError for a file or folder that does not exist; also a FileNotFoundError.",
          PyExc_FileNotFoundError),
      .permission = io_subclass(
          "eplb.PermissionIoError",
          "The IoError for a file that may not be read or written; also a PermissionError.",
          PyExc_PermissionError),
      .is_a_directory = io_subclass(
          "eplb.IsADirectoryIoError",
          "The IoError for a folder given where a file is read or written; also an "
          "IsADirectoryError.",
          PyExc_IsADirectoryError),
      .not_a_directory = io_subclass(
          "eplb.NotADirectoryIoError",
          "The IoError for a path through something that is not a folder; also a "
          "NotADirectoryError.",
          PyExc_NotADirectoryError)};
  io_error.release();
  nb::register_exception_translator(translate, types);
}

}  // namespace eplb::python
