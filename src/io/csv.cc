// CSV load matrices: one row per layer, comma-separated numbers, no header.
#include "io/detail/formats.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "eplb/trace.h"
#include "io/detail/files.h"

namespace eplb::io::detail {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

// Quotes at most a few dozen characters of a bad field, so a binary file makes a short message.
std::string quote(std::string_view field) {
  constexpr size_t kMaxQuoted = 32;
  std::string text = "\"";
  text += field.substr(0, kMaxQuoted);
  if (field.size() > kMaxQuoted) text += "...";
  return text + "\"";
}

class CsvReader {
 public:
  CsvReader(std::string_view function, const std::filesystem::path& path)
      : function_(function), path_(path) {}

  Trace read(std::string_view content) {
    // Spreadsheets often save UTF-8 with a byte-order mark; it is not part of the first number.
    if (content.starts_with("\xEF\xBB\xBF")) content.remove_prefix(3);
    int64_t line_number = 0;
    int64_t blank_line = 0;
    while (!content.empty()) {
      const size_t end = content.find('\n');
      const std::string_view line = trim(content.substr(0, end));
      content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
      ++line_number;
      // Blank lines may only end the file: one in the middle would silently drop a layer.
      if (line.empty()) {
        if (blank_line == 0) blank_line = line_number;
        continue;
      }
      if (blank_line != 0) fail("line " + std::to_string(blank_line) + ": blank line");
      read_row(line, line_number);
    }
    if (trace_.num_layers == 0) fail("empty file");
    trace_.num_steps = 1;
    return std::move(trace_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_parse_error(function_, path_, what);
  }

  void read_row(std::string_view line, int64_t line_number) {
    int64_t num_values = 0;
    while (true) {
      const size_t comma = line.find(',');
      const std::string_view field = trim(line.substr(0, comma));
      ++num_values;
      trace_.values.push_back(parse_value(field, line_number, num_values));
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
    if (trace_.num_layers == 0) {
      trace_.num_experts = num_values;
    } else if (num_values != trace_.num_experts) {
      fail("line " + std::to_string(line_number) + ": expected " +
           std::to_string(trace_.num_experts) + " values, got " + std::to_string(num_values));
    }
    ++trace_.num_layers;
  }

  // Columns count fields from 1, so column `c` holds expert `c - 1`.
  double parse_value(std::string_view field, int64_t line_number, int64_t column) const {
    double value = 0;
    const char* end = field.data() + field.size();
    const auto [stop, error] = std::from_chars(field.data(), end, value);
    if (error == std::errc() && stop == end && is_valid_load(value)) return value;
    const std::string where =
        "line " + std::to_string(line_number) + ", column " + std::to_string(column);
    if (error == std::errc::result_out_of_range) {
      fail(where + ": number " + quote(field) + " is out of range");
    }
    if (field.empty() || error != std::errc() || stop != end) {
      fail(where + ": expected a number, got " + quote(field));
    }
    fail(where + ": " + bad_load_message(value));
  }

  std::string_view function_;
  const std::filesystem::path& path_;
  Trace trace_;
};

}  // namespace

Trace parse_csv_loads(std::string_view function, const std::filesystem::path& path,
                      std::string_view content) {
  return CsvReader(function, path).read(content);
}

void refuse_torch_file(std::string_view function, const std::filesystem::path& path,
                       std::string_view content, std::string_view python_function) {
  std::string extension = path.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // torch.save writes a zip archive (since PyTorch 1.6) or, in the legacy format, a pickle.
  const bool torch_file = extension == ".pt" || extension == ".pth" ||
                          content.starts_with("PK\x03\x04") || content.starts_with("\x80\x02");
  if (!torch_file) return;
  throw_parse_error(function, path,
                    "a PyTorch file (torch.save), which the Python package reads: " +
                        std::string(python_function) + "(path) (pip install eplb torch)");
}

}  // namespace eplb::io::detail
