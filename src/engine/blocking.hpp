#pragma once
// Blocking libraries (SQLite, DuckDB) never run on the I/O thread: run_blocking hands a function
// to the store thread and resumes the coroutine on its own executor with the result.
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace finsync::engine {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::thread_pool& pool,
                                                              F fn) {
  using R = std::invoke_result_t<F&>;
  auto home = co_await boost::asio::this_coro::executor;
  auto initiation = [&pool, home](auto handler, F f) {
    boost::asio::post(pool, [handler = std::move(handler), f = std::move(f), home]() mutable {
      R result = f();
      boost::asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  };
  R out = co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
      initiation, boost::asio::use_awaitable, std::move(fn));
  co_return out;
}

}  // namespace finsync::engine
