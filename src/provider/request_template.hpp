#pragma once
// Request templating: "{name}" placeholders in paths, query values, headers and JSON bodies.
#include <map>
#include <string>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"

namespace finsync::provider {

struct TemplateVars {
  std::map<std::string, std::string> values;  // endpoint, auth, fields, and every parameter
  std::string params_json;                    // "{params}": every parameter as a JSON object
};

// Replaces each {name}; an unknown name is an invalid_input error naming it.
Result<std::string> render_string(const std::string& tpl, const TemplateVars& vars);
// A body template (YAML map) rendered as JSON. A string that is exactly "{params}" becomes the
// params object; other strings are rendered with render_string.
Result<std::string> render_json_body(const YAML::Node& tpl, const TemplateVars& vars);

}  // namespace finsync::provider
