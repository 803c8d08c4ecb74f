"""Unmodified python-binance's futures side against the simulator's USD-M and
COIN-M markets, pointed at them only by its URL settings.

    python3 python_binance_futures.py SPOT_HOST:PORT USDM_HOST:PORT COINM_HOST:PORT

(python-binance's clients ping the spot API when they are made.)

Prints one line per check ("ok NAME", "gap NAME: why" or "FAIL NAME: why"),
and every message a socket received as "msg NAME <json>" so the caller can
decode each with its own decoder. Exits 1 if any check failed.
"""

import asyncio
import json
import sys

from binance import AsyncClient, BinanceSocketManager, Client
from binance.enums import FuturesType
from binance.ws.depthcache import FuturesDepthCacheManager

import checks
from checks import attempt, check, recv_n

SPOT, USDM, COINM = sys.argv[1], sys.argv[2], sys.argv[3]

# What the simulator does not serve yet: reported, not failed; a gap that
# starts working fails the run, so that it is taken off this list.
checks.KNOWN_GAPS = set()



def point(cls):
    """URL settings only: the library's own code is not touched."""
    cls.API_URL = f"http://{SPOT}/api"
    cls.FUTURES_URL = f"http://{USDM}/fapi"
    cls.FUTURES_COIN_URL = f"http://{COINM}/dapi"


def rest_checks():
    point(Client)
    client = Client()
    attempt("futures_ping", client.futures_ping, lambda r: r == {})
    attempt("futures_time", client.futures_time, lambda r: "serverTime" in r)
    attempt(
        "futures_exchange_info",
        client.futures_exchange_info,
        lambda r: "BTCUSDT" in {s["symbol"] for s in r["symbols"]},
    )
    attempt(
        "futures_order_book",
        lambda: client.futures_order_book(symbol="BTCUSDT", limit=100),
        lambda r: float(r["bids"][0][0]) < float(r["asks"][0][0]) and "lastUpdateId" in r,
    )
    attempt(
        "futures_recent_trades",
        lambda: client.futures_recent_trades(symbol="BTCUSDT", limit=5),
        lambda r: isinstance(r, list),
    )
    attempt(
        "futures_aggregate_trades",
        lambda: client.futures_aggregate_trades(symbol="BTCUSDT", limit=5),
        lambda r: isinstance(r, list),
    )
    attempt(
        "futures_klines",
        lambda: client.futures_klines(symbol="BTCUSDT", interval="1m", limit=5),
        lambda r: isinstance(r, list),
    )
    attempt("futures_coin_ping", client.futures_coin_ping, lambda r: r == {})
    attempt(
        "futures_coin_order_book",
        lambda: client.futures_coin_order_book(symbol="BTCUSD_PERP", limit=50),
        lambda r: float(r["bids"][0][0]) < float(r["asks"][0][0]) and r.get("pair") == "BTCUSD",
    )


def data(m):
    """The payload of a combined (`stream?streams=`) or raw (`ws/`) frame."""
    return m["data"] if isinstance(m, dict) and "data" in m and "stream" in m else m


def event(m):
    d = data(m)
    return d[0].get("e") if isinstance(d, list) and d else d.get("e") if isinstance(d, dict) else None




async def stream_checks():
    point(AsyncClient)
    client = await AsyncClient.create()
    bm = BinanceSocketManager(client)
    bm.FSTREAM_URL = f"ws://{USDM}/"
    bm.DSTREAM_URL = f"ws://{COINM}/"
    coin = FuturesType.COIN_M
    is_ = lambda e: (lambda m: event(m) == e)
    sockets = {
        "aggtrade_futures_socket": (bm.aggtrade_futures_socket("BTCUSDT"), is_("aggTrade")),
        "aggtrade_futures_socket_coinm": (
            bm.aggtrade_futures_socket("BTCUSD_PERP", futures_type=coin),
            is_("aggTrade"),
        ),
        "kline_futures_socket": (bm.kline_futures_socket("BTCUSDT"), is_("continuous_kline")),
        "kline_futures_socket_coinm": (
            bm.kline_futures_socket("BTCUSD", futures_type=coin),
            is_("continuous_kline"),
        ),
        "symbol_mark_price_socket": (bm.symbol_mark_price_socket("BTCUSDT"), is_("markPriceUpdate")),
        "symbol_mark_price_socket_coinm": (
            bm.symbol_mark_price_socket("BTCUSD_PERP", futures_type=coin),
            is_("markPriceUpdate"),
        ),
        "all_mark_price_socket": (
            bm.all_mark_price_socket(),
            lambda m: isinstance(data(m), list) and event(m) == "markPriceUpdate",
        ),
        "futures_depth_socket": (bm.futures_depth_socket("BTCUSDT"), is_("depthUpdate")),
        "futures_depth_socket_coinm": (
            bm.futures_depth_socket("BTCUSD_PERP", futures_type=coin),
            is_("depthUpdate"),
        ),
        "futures_rpi_depth_socket": (bm.futures_rpi_depth_socket("BTCUSDT"), is_("depthUpdate")),
        "symbol_ticker_futures_socket": (bm.symbol_ticker_futures_socket("BTCUSDT"), is_("bookTicker")),
        "individual_symbol_ticker_futures_socket": (
            bm.individual_symbol_ticker_futures_socket("BTCUSDT"),
            is_("24hrTicker"),
        ),
        "all_ticker_futures_socket": (bm.all_ticker_futures_socket(), is_("bookTicker")),
        "futures_ticker_socket": (
            bm.futures_ticker_socket(),
            lambda m: isinstance(data(m), list) and event(m) == "24hrTicker",
        ),
        "futures_coin_ticker_socket": (
            bm.futures_coin_ticker_socket(),
            lambda m: isinstance(data(m), list) and event(m) == "24hrTicker",
        ),
        "index_price_socket": (bm.index_price_socket("BTCUSD"), is_("indexPriceUpdate")),
        "futures_multiplex_socket": (
            bm.futures_multiplex_socket(["btcusdt@aggTrade", "ethusdt@markPrice@1s"]),
            lambda m: m.get("stream") in ("btcusdt@aggTrade", "ethusdt@markPrice@1s"),
        ),
    }

    async def one(name, socket, ok):
        try:
            messages = await recv_n(socket, 2)
            for m in messages:
                print(f"msg {name} {json.dumps(m, separators=(',', ':'))}", flush=True)
            check(name, all(ok(m) for m in messages), messages[:1])
        except Exception as e:  # a check that cannot run is a failed check
            check(name, False, f"{type(e).__name__}: {e}")

    await asyncio.gather(*(one(name, socket, ok) for name, (socket, ok) in sockets.items()))
    # python-binance's futures "depth cache": the partial book (depth 10),
    # replaced by each message.
    try:
        async with FuturesDepthCacheManager(client, "BTCUSDT", bm=bm) as dcm:
            for _ in range(5):
                cache = await asyncio.wait_for(dcm.recv(), 20)
            bids, asks = cache.get_bids(), cache.get_asks()
            sane = bids and asks and float(bids[0][0]) < float(asks[0][0])
            check("futures_depth_cache_manager", sane, f"bids {bids[:1]}, asks {asks[:1]}")
    except Exception as e:
        check("futures_depth_cache_manager", False, f"{type(e).__name__}: {e}")
    await client.close_connection()


checks.run(rest_checks, stream_checks)
