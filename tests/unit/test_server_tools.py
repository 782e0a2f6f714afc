"""`serve` relays tools and tool calls unchanged, each call under one stable index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai

from llms_desktop.store import Store
from tests.support.loopback import LoopbackServer, chunk, sse_reply
from tests.support.server_harness import (
    body,
    chunks,
    client,
    provider_config,
    registry_of,
    serving,
    upstream_routes,
)


def no_index(call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    """A fragment from a server that leaves `index` out (each call at list position 0)."""
    call: dict[str, Any] = {"function": {"arguments": arguments}}
    if call_id is not None:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return call


UNINDEXED = [
    [no_index("call_a", "weather", "")],
    [no_index(None, None, '{"city": "Oslo"}')],
    [no_index("call_b", "time", "")],
    [no_index(None, None, '{"tz": "UTC"}')],
]


async def test_calls_without_an_index_reach_clients_as_separate_calls(
    loopback: LoopbackServer,
) -> None:
    loopback.handler = upstream_routes(
        sse_reply([*[chunk(tool_calls=c) for c in UNINDEXED], chunk(finish="tool_calls")])
    )
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused") as oai,
    ):
        stream = await oai.chat.completions.create(
            model="m1", messages=[{"role": "user", "content": "go"}], stream=True
        )
        received = [item.model_dump() async for item in stream]
        whole = await oai.chat.completions.create(
            model="m1", messages=[{"role": "user", "content": "go"}], stream=False
        )
    fragments = [
        call for c in received for call in c["choices"][0]["delta"].get("tool_calls") or ()
    ]
    assert [(f["index"], f["id"]) for f in fragments] == [
        (0, "call_a"),
        (0, None),
        (1, "call_b"),
        (1, None),
    ]
    # What a client rebuilds from the indices, and the non-streamed answer, agree.
    calls: dict[int, str] = {}
    for fragment in fragments:
        calls[fragment["index"]] = (
            calls.get(fragment["index"], "") + (fragment["function"]["arguments"])
        )
    assert calls == {0: '{"city": "Oslo"}', 1: '{"tz": "UTC"}'}
    message = whole.choices[0].message
    assert message.tool_calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_a", "weather", '{"city": "Oslo"}'),
        ("call_b", "time", '{"tz": "UTC"}'),
    ]


async def test_stored_exchanges_keep_tool_results_with_their_call_ids(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = upstream_routes(sse_reply([chunk("Sunny."), chunk(finish="stop")]))
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "user", "content": "so?"},
    ]
    with Store.open(tmp_path / "data") as store:
        async with (
            serving(registry_of(provider_config("up", loopback)), store=store) as server,
            client(server) as http,
        ):
            response = await http.post(
                "/v1/chat/completions", json=body(messages=messages, stream=True)
            )
        assert chunks(response.content)
        (thread,) = store.list_threads()
        path = store.messages(thread.id)
    assert [(m.role, m.tool_call_id) for m in path] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("user", None),
        ("assistant", None),
    ]
    assert path[1].tool_calls[0]["id"] == "c1"
