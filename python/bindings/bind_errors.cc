// eplb.Error and its subclasses, and the translation of the C++ exceptions into them.

#include <exception>

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
};

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
    PyErr_SetString(types->io_error, e.what());
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
      "OSError.",
      nb::make_tuple(error, nb::handle(PyExc_OSError)));
  m.attr("Error") = error;
  m.attr("InvalidArgument") = invalid_argument;
  m.attr("InvalidSizes") = invalid_sizes;
  m.attr("ParseError") = parse_error;
  m.attr("IoError") = io_error;

  // The translator outlives the module's attributes, so the payload owns a reference to each
  // class; both live until the interpreter exits, like nb::exception's.
  auto* types = new ErrorTypes{error.release().ptr(), invalid_argument.release().ptr(),
                               invalid_sizes.release().ptr(), parse_error.release().ptr(),
                               io_error.release().ptr()};
  nb::register_exception_translator(translate, types);
}

}  // namespace eplb::python
