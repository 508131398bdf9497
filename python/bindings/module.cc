// The _eplb extension module: eplb's C++ core and I/O, bound with nanobind.

#include "bindings.h"

NB_MODULE(_eplb, m) {
  m.doc() =
      "eplb's compiled core: an expert-parallelism load balancer for Mixture-of-Experts "
      "inference. Use the `eplb` package, which accepts torch tensors, NumPy arrays and lists.";
  m.attr("__version__") = EPLB_VERSION_STRING;
  eplb::python::bind_errors(m);
  eplb::python::bind_plan(m);
  eplb::python::bind_policy(m);
  eplb::python::bind_metrics(m);
  eplb::python::bind_io(m);
  eplb::python::bind_formats(m);
  eplb::python::bind_planner(m);
}
