#include "serve.hpp"

#include <cstdio>
#include <exception>
#include <memory>

#include "audit_log.hpp"
#include "chaos.hpp"
#include "http_server.hpp"
#include "tushare_personality.hpp"
#include "world.hpp"

namespace emu {

namespace {

std::shared_ptr<Personality> make_personality(const ServeOptions& o,
                                              std::shared_ptr<const World> world,
                                              std::shared_ptr<Chaos> chaos) {
  // One personality today; others plug in here behind the same interface.
  TushareConfig config;
  config.token = o.token;
  config.row_cap = o.row_cap;
  config.per_minute = o.per_minute;
  config.per_day = o.per_day;
  config.minute_seconds = o.minute_seconds;
  config.day_seconds = o.day_seconds;
  return std::make_shared<TusharePersonality>(std::move(world), config, std::move(chaos));
}

}  // namespace

int run_serve(const ServeOptions& o) {
  std::shared_ptr<AuditLog> audit;
  if (!o.audit_log.empty()) {
    try {
      audit = std::make_shared<AuditLog>(o.audit_log, o.token);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "finsync-emulator: %s\n", e.what());
      return 2;
    }
  }
  auto world = std::make_shared<const World>(o.seed, o.symbols, o.last_date);
  ChaosConfig chaos_config;
  chaos_config.seed = o.chaos_seed;
  chaos_config.error_rate = o.error_rate;
  chaos_config.drop_rate = o.drop_rate;
  chaos_config.truncate_rate = o.truncate_rate;
  auto chaos = std::make_shared<Chaos>(chaos_config);

  ServerConfig server;
  server.host = o.host;
  server.port = o.port;
  server.port_file = o.port_file;
  server.tls_cert = o.tls_cert;
  server.tls_key = o.tls_key;
  server.latency_ms = o.latency_ms;
  server.hang = o.hang;
  server.threads = o.threads;
  return run_server(server, make_personality(o, std::move(world), std::move(chaos)),
                    std::move(audit));
}

}  // namespace emu
