using System.Net;
using System.Net.Http.Json;

namespace Retro.Api.Tests;

public sealed class LoadAndCancellationTests : IDisposable
{
    // Chunk size 8: "Where is Paris?" (15 bytes) is left-padded to 16 tokens, so generated tokens are fed from 16 on.
    private const int PromptLength = 16;
    private readonly RetroApiFactory _factory = new(new()
    {
        ["Retro:Service:MaxConcurrentRequests"] = "1",
        ["Retro:Service:QueueLimit"] = "0",
        ["Retro:Service:RetryAfterSeconds"] = "3",
    });

    public void Dispose()
    {
        _factory.Decoder.Gate?.Release(10_000);
        _factory.Dispose();
    }

    [Fact]
    public async Task Beyond_the_concurrency_limit_a_request_is_refused_with_429_and_retry_after()
    {
        var client = _factory.CreateClient();
        (await client.GetAsync("/alive")).StatusCode.ShouldBe(HttpStatusCode.OK);
        _factory.Decoder.GateFromLength = PromptLength;
        _factory.Decoder.Gate = new SemaphoreSlim(0);

        // The first request holds the only slot: it streams, and its decoding waits at the gate.
        var first = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/answer")
        {
            Content = JsonContent.Create(new { question = "Where is Paris?", maxTokens = 8, stream = true }),
        }, HttpCompletionOption.ResponseHeadersRead);
        first.StatusCode.ShouldBe(HttpStatusCode.OK);

        var second = await client.PostAsJsonAsync("/v1/answer", new { question = "Where is Paris?", maxTokens = 2 });
        second.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        second.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(3));
        second.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await client.GetAsync("/health")).StatusCode.ShouldBe(HttpStatusCode.OK); // health is not limited

        _factory.Decoder.Gate.Release(100);
        var events = await Sse.ReadAllAsync(first);
        events[^1].Event.ShouldBe("done");
        (await client.PostAsJsonAsync("/v1/answer", new { question = "Where is Paris?", maxTokens = 2 })).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_client_that_disconnects_stops_its_decoding()
    {
        var client = _factory.CreateClient();
        (await client.GetAsync("/alive")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var gate = new SemaphoreSlim(0);
        _factory.Decoder.GateFromLength = PromptLength;
        _factory.Decoder.Gate = gate;

        using var cts = new CancellationTokenSource();
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/answer")
        {
            Content = JsonContent.Create(new { question = "Where is Paris?", maxTokens = 500, stream = true }),
        }, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        gate.Release(3);
        int tokens = 0;
        await foreach (var (name, _) in Sse.ReadAsync(response, cts.Token))
        {
            if (name == "token" && ++tokens == 2) break;
        }
        cts.Cancel();
        response.Dispose();
        // Let the decoder go on, one token at a time: only cancellation can end the session before 500 tokens.
        for (int i = 0; i < 490 && !_factory.Decoder.Disposed.Task.IsCompleted; i++)
        {
            gate.Release();
            await Task.Delay(10);
        }
        _factory.Decoder.Disposed.Task.IsCompleted.ShouldBeTrue("the decoding session was not stopped");
        int fed = await _factory.Decoder.Disposed.Task;
        fed.ShouldBeLessThan(PromptLength + 490);
    }
}
