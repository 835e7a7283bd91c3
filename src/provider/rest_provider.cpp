#include "provider/rest_provider.hpp"

#include <fmt/format.h>

#include "config/env.hpp"
#include "core/json_escape.hpp"
#include "core/percent_encode.hpp"
#include "provider/error_classify.hpp"
#include "provider/request_template.hpp"
#include "provider/row_extract.hpp"

namespace finsync::provider {
namespace {

class RestProvider final : public Provider {
 public:
  RestProvider(config::ProviderDef def, std::string base_url, std::string token)
      : def_(std::move(def)), base_url_(std::move(base_url)), token_(std::move(token)) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }

  const config::ProviderDef& def() const override { return def_; }

  Result<net::HttpRequest> build_request(const config::EndpointDef& ep,
                                         const Params& params) const override {
    TemplateVars vars;
    vars.values["endpoint"] = ep.api_name;
    vars.values["auth"] = token_;
    std::string fields;
    for (const auto& c : ep.columns) {
      if (!fields.empty()) fields += ',';
      fields += c.name;
    }
    vars.values["fields"] = fields;
    vars.params_json.push_back('{');
    for (size_t i = 0; i < params.size(); ++i) {
      vars.values[params[i].first] = params[i].second;
      vars.params_json += fmt::format("{}\"{}\":\"{}\"", i ? "," : "", json_escape(params[i].first),
                                      json_escape(params[i].second));
    }
    vars.params_json.push_back('}');

    net::HttpRequest req;
    req.method = ep.request.method;
    auto path = render_string(ep.request.path, vars);
    if (!path) return fail(path.error());
    std::string query;
    auto add_query = [&](const std::string& k, const std::string& v) {
      query +=
          fmt::format("{}{}={}", query.empty() ? "?" : "&", percent_encode(k), percent_encode(v));
    };
    for (const auto& [k, tpl] : ep.request.query) {
      // A query parameter whose template is one absent parameter is left out.
      if (tpl.size() > 2 && tpl.front() == '{' && tpl.back() == '}' &&
          !vars.values.count(tpl.substr(1, tpl.size() - 2)))
        continue;
      auto v = render_string(tpl, vars);
      if (!v) return fail(v.error());
      add_query(k, *v);
    }
    if (def_.auth.kind == "query") add_query(def_.auth.field, token_);
    req.url = base_url_ + *path + query;
    req.headers = auth_headers();
    for (const auto& [k, tpl] : ep.request.headers) {
      auto v = render_string(tpl, vars);
      if (!v) return fail(v.error());
      req.headers.emplace_back(k, *v);
    }
    if (ep.request.body) {
      auto body = render_json_body(ep.request.body, vars);
      if (!body) return fail(body.error());
      req.body = std::move(*body);
      req.headers.emplace_back("Content-Type", "application/json");
    }
    return req;
  }

  Result<net::HttpRequest> build_follow_request(const config::EndpointDef& ep,
                                                const std::string& url) const override {
    net::HttpRequest req;
    req.method = "GET";
    req.url = url;
    if (def_.auth.kind == "query")
      req.url += fmt::format("{}{}={}", url.find('?') == std::string::npos ? '?' : '&',
                             percent_encode(def_.auth.field), percent_encode(token_));
    req.headers = auth_headers();
    for (const auto& [k, tpl] : ep.request.headers)
      if (tpl.find('{') == std::string::npos) req.headers.emplace_back(k, tpl);
    return req;
  }

  Result<Page> parse_response(const config::EndpointDef& ep, const Params& params,
                              const net::HttpResponse& response) override {
    simdjson::dom::element root;
    const bool is_json =
        parser_.parse(response.body.data(), response.body.size(), true).get(root) ==
        simdjson::SUCCESS;
    if (auto err = classify_response(def_, response, is_json ? &root : nullptr,
                                     std::chrono::system_clock::now()))
      return fail(*err);
    Result<RecordBatch> batch = fail(ErrorKind::internal, "no rows");
    if (ep.rows.kind == "csv") {
      batch = extract_csv(ep.rows, ep.columns, response.body, params);
    } else if (!is_json) {
      return fail(ErrorKind::transient, fmt::format("{} {}: response is not valid JSON ({} bytes)",
                                                    def_.name, ep.name, response.body.size()));
    } else {
      batch = extract_rows(ep.rows, ep.columns, root, params);
    }
    if (!batch)
      return fail(batch.error().kind,
                  fmt::format("{} {}: {}", def_.name, ep.name, batch.error().message));
    Page page{std::move(*batch), std::nullopt};
    if (ep.pagination.kind == "next_url" && is_json) {
      std::string_view next;
      if (root.at_pointer(json_pointer(ep.pagination.path)).get_string().get(next) ==
              simdjson::SUCCESS &&
          !next.empty())
        page.next_cursor = std::string(next);
    }
    return page;
  }

 private:
  std::vector<std::pair<std::string, std::string>> auth_headers() const {
    if (def_.auth.kind != "header") return {};
    return {{def_.auth.field, def_.auth.prefix + token_}};
  }

  config::ProviderDef def_;
  std::string base_url_;
  std::string token_;
  simdjson::dom::parser parser_;
};

}  // namespace

Result<std::unique_ptr<Provider>> make_rest_provider(const config::ProviderDef& def) {
  auto base = config::expand_env(def.base_url);
  if (!base) return fail(base.error());
  std::string token;
  if (def.auth.kind != "none") {
    auto t = config::expand_env(def.auth.value, /*secret_field=*/true);
    if (!t) return fail(t.error());
    token = std::move(*t);
  }
  return std::unique_ptr<Provider>(new RestProvider(def, std::move(*base), std::move(token)));
}

}  // namespace finsync::provider
