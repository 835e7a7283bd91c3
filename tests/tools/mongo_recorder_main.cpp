// mongo_recorder --log FILE [--port-file FILE] [--port N] [--summary] [--remember COLL]...
// Serves the MongoDB wire protocol on 127.0.0.1 (see mongo_recorder.hpp) and writes every command
// as one JSON line to FILE. Prints "listening 127.0.0.1:PORT" when ready. SIGHUP closes every
// connection and the listener and listens again (a server restart); SIGTERM/SIGINT stop it.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "mongo_recorder.hpp"

int main(int argc, char** argv) {
  finsync::testing::MongoRecorder::Options opts;
  std::string port_file;
  bool custom_remember = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mongo_recorder: %s needs a value\n", a.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--log") {
      opts.log_path = value();
    } else if (a == "--port-file") {
      port_file = value();
    } else if (a == "--port") {
      opts.port = static_cast<uint16_t>(std::stoi(value()));
    } else if (a == "--summary") {
      opts.record_documents = false;
    } else if (a == "--remember") {
      if (!custom_remember) opts.remember.clear();
      custom_remember = true;
      opts.remember.insert(value());
    } else {
      std::fprintf(stderr,
                   "usage: mongo_recorder --log FILE [--port-file FILE] [--port N] [--summary] "
                   "[--remember COLLECTION]...\n");
      return 64;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the recorder's thread starts

  finsync::testing::MongoRecorder recorder(opts);
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << recorder.port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::printf("listening 127.0.0.1:%u\n", recorder.port());
  std::fflush(stdout);
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      recorder.restart();
      std::printf("restarted\n");
      std::fflush(stdout);
      continue;
    }
    return 0;
  }
}
