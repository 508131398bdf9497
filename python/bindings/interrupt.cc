// Ctrl-C during long core calls: a should_stop check that polls Python's signal handlers.

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "bindings.h"

namespace eplb::python {
namespace {

// How often the check takes the GIL to run the signal handlers: rarely enough that calls
// shorter than this never take it, often enough that Ctrl-C lands well within a second.
constexpr std::chrono::milliseconds kPollInterval{50};

}  // namespace

struct SignalPoll::State {
  unsigned long main_thread = 0;  // signal handlers run on Python's main thread only
  std::chrono::steady_clock::time_point next_poll;
  std::optional<nb::python_error> raised;
};

SignalPoll::SignalPoll() : state_(std::make_shared<State>()) {
  state_->main_thread = nb::cast<unsigned long>(
      nb::module_::import_("threading").attr("main_thread")().attr("ident"));
  state_->next_poll = std::chrono::steady_clock::now() + kPollInterval;
}

bool SignalPoll::operator()() const {
  State& state = *state_;
  if (PyThread_get_thread_ident() != state.main_thread) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now < state.next_poll) return false;
  state.next_poll = now + kPollInterval;
  nb::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() == 0) return false;
  state.raised.emplace();  // takes the error (KeyboardInterrupt, or a handler's) out of Python
  return true;
}

void raise_if_interrupted(const std::function<bool()>& should_stop) {
  const auto* poll = should_stop.target<SignalPoll>();
  if (poll == nullptr || !poll->state_->raised) return;
  nb::python_error raised = std::move(*poll->state_->raised);
  poll->state_->raised.reset();
  throw raised;
}

}  // namespace eplb::python
