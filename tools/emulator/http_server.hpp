// HTTP/1.1 (keep-alive) or HTTPS server that hands each request to a personality and applies
// the transport-level chaos (latency, hang, drop, truncate).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "audit_log.hpp"
#include "personality.hpp"

namespace emu {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;
  std::string tls_cert;  // both set: HTTPS
  std::string tls_key;
  std::uint64_t latency_ms = 0;
  bool hang = false;
  int threads = 2;
};

// Runs until SIGINT or SIGTERM; returns the process exit code.
int run_server(const ServerConfig& config, std::shared_ptr<Personality> personality,
               std::shared_ptr<AuditLog> audit);

}  // namespace emu
