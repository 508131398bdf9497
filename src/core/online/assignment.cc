// Assignment solvers behind align_plan().
#include "core/detail/assignment.h"

#include <algorithm>
#include <limits>
#include <tuple>

namespace eplb::detail {

std::vector<int64_t> max_weight_assignment(std::span<const int64_t> weight, int64_t size) {
  // Minimizes cost = -weight. Rows are added one at a time; each addition grows a shortest
  // augmenting path over reduced costs (row potentials u, column potentials v). Index 0 is a
  // virtual column that holds the row being inserted.
  constexpr int64_t kInfinity = std::numeric_limits<int64_t>::max() / 4;
  const auto n = static_cast<size_t>(size);
  std::vector<int64_t> row_potential(n + 1, 0);
  std::vector<int64_t> column_potential(n + 1, 0);
  std::vector<size_t> row_of_column(n + 1, 0);
  std::vector<size_t> previous_column(n + 1, 0);
  std::vector<int64_t> min_slack(n + 1);
  std::vector<char> used(n + 1);
  for (size_t row = 1; row <= n; ++row) {
    row_of_column[0] = row;
    size_t column = 0;
    std::fill(min_slack.begin(), min_slack.end(), kInfinity);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[column] = 1;
      const size_t current_row = row_of_column[column];
      int64_t delta = kInfinity;
      size_t next_column = 0;
      for (size_t candidate = 1; candidate <= n; ++candidate) {
        if (used[candidate]) continue;
        const int64_t cost = -weight[(current_row - 1) * n + (candidate - 1)];
        const int64_t reduced = cost - row_potential[current_row] - column_potential[candidate];
        if (reduced < min_slack[candidate]) {
          min_slack[candidate] = reduced;
          previous_column[candidate] = column;
        }
        if (min_slack[candidate] < delta) {
          delta = min_slack[candidate];
          next_column = candidate;
        }
      }
      for (size_t candidate = 0; candidate <= n; ++candidate) {
        if (used[candidate]) {
          row_potential[row_of_column[candidate]] += delta;
          column_potential[candidate] -= delta;
        } else {
          min_slack[candidate] -= delta;
        }
      }
      column = next_column;
    } while (row_of_column[column] != 0);
    // Flip the augmenting path back to the virtual column.
    do {
      const size_t from = previous_column[column];
      row_of_column[column] = row_of_column[from];
      column = from;
    } while (column != 0);
  }
  std::vector<int64_t> column_of_row(n, -1);
  for (size_t column = 1; column <= n; ++column) {
    column_of_row[row_of_column[column] - 1] = static_cast<int64_t>(column - 1);
  }
  return column_of_row;
}

std::vector<int64_t> greedy_assignment(std::span<const int64_t> weight, int64_t size) {
  std::vector<std::tuple<int64_t, int64_t, int64_t>> pairs;
  pairs.reserve(static_cast<size_t>(size * size));
  for (int64_t row = 0; row < size; ++row) {
    for (int64_t column = 0; column < size; ++column) {
      pairs.emplace_back(-weight[static_cast<size_t>(row * size + column)], row, column);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<int64_t> column_of_row(static_cast<size_t>(size), -1);
  std::vector<char> column_taken(static_cast<size_t>(size), 0);
  for (const auto& [negative_weight, row, column] : pairs) {
    if (column_of_row[static_cast<size_t>(row)] >= 0 || column_taken[static_cast<size_t>(column)]) {
      continue;
    }
    column_of_row[static_cast<size_t>(row)] = column;
    column_taken[static_cast<size_t>(column)] = 1;
  }
  return column_of_row;
}

}  // namespace eplb::detail
