#include "sink/mongodb/mongo_sink.hpp"

#include "sink/db/db_sink.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::mongodb {

void register_mongodb_sink(SinkRegistry& registry) {
  registry.add(
      "mongodb", [](const SinkSpec& spec, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
        if (auto k = check_keys(
                spec, {"dsn", "password", "replace", "batch_size", "schema_drift", "max_retries"});
            !k)
          return fail(k.error());
        auto driver = make_driver(spec);
        if (!driver) return fail(driver.error());
        auto sink = db::make_db_sink(std::move(*driver), spec);
        if (!sink) return fail(sink.error());
        return std::unique_ptr<Sink>(std::move(*sink));
      });
}

}  // namespace finsync::sink::mongodb
