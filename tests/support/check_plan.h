#pragma once
// The one placement check every test, fuzzer and benchmark goes through.

#include <string>

#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb::testing {

/// Checks `plan` with validate() and independently of it (every slot filled, counts equal the
/// occurrences in phy2log, log2phy and phy2log inverse of each other); returns an empty string
/// when the plan is sound, else a description of the first problem.
std::string check_plan(const Plan& plan, const Topology& topology, int64_t num_experts);

}  // namespace eplb::testing

/// Asserts that `statement` throws `exception_type` whose what() equals `message` exactly.
#define EXPECT_THROW_MESSAGE(statement, exception_type, message)                 \
  EXPECT_THROW(                                                                  \
      {                                                                          \
        try {                                                                    \
          statement;                                                             \
        } catch (const exception_type& caught_error) {                           \
          EXPECT_EQ(std::string(caught_error.what()), std::string(message));     \
          throw;                                                                 \
        }                                                                        \
      },                                                                         \
      exception_type)
