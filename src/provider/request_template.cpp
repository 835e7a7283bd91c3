#include "provider/request_template.hpp"

#include <fmt/format.h>

#include "core/json_escape.hpp"

namespace finsync::provider {

Result<std::string> render_string(const std::string& tpl, const TemplateVars& vars) {
  std::string out;
  out.reserve(tpl.size());
  for (size_t i = 0; i < tpl.size(); ++i) {
    if (tpl[i] != '{') {
      out += tpl[i];
      continue;
    }
    size_t close = tpl.find('}', i);
    if (close == std::string::npos) {
      out += tpl.substr(i);
      break;
    }
    std::string name = tpl.substr(i + 1, close - i - 1);
    auto it = vars.values.find(name);
    if (it == vars.values.end())
      return fail(ErrorKind::invalid_input,
                  fmt::format("template '{}': no value for {{{}}}", tpl, name));
    out += it->second;
    i = close;
  }
  return out;
}

namespace {

Result<void> render_node(const YAML::Node& n, const TemplateVars& vars, std::string& out) {
  if (n.IsMap()) {
    out += '{';
    bool first = true;
    for (const auto& kv : n) {
      if (!first) out += ',';
      first = false;
      out += '"';
      out += json_escape(kv.first.Scalar());
      out += "\":";
      auto r = render_node(kv.second, vars, out);
      if (!r) return r;
    }
    out += '}';
  } else if (n.IsSequence()) {
    out += '[';
    for (size_t i = 0; i < n.size(); ++i) {
      if (i) out += ',';
      auto r = render_node(n[i], vars, out);
      if (!r) return r;
    }
    out += ']';
  } else if (n.IsNull()) {
    out += "null";
  } else if (n.Scalar() == "{params}") {
    out += vars.params_json;
  } else {
    auto s = render_string(n.Scalar(), vars);
    if (!s) return fail(s.error());
    out += '"';
    out += json_escape(*s);
    out += '"';
  }
  return {};
}

}  // namespace

Result<std::string> render_json_body(const YAML::Node& tpl, const TemplateVars& vars) {
  std::string out;
  auto r = render_node(tpl, vars, out);
  if (!r) return fail(r.error());
  return out;
}

}  // namespace finsync::provider
