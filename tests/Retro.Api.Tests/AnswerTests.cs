using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Retro.Api.Tests;

public sealed class AnswerTests : IClassFixture<RetroApiFactory>
{
    private const string Question = "Where is the Eiffel Tower?";
    private readonly RetroApiFactory _factory;

    public AnswerTests(RetroApiFactory factory) => _factory = factory;

    [Fact]
    public async Task Generate_mixes_the_decoders_neighbour_copy_by_default_and_not_with_neighbourCopy_false()
    {
        using var factory = new RetroApiFactory();
        factory.Decoder.NeighbourCopy = new Retro.Engine.Retro.NeighbourCopy
        {
            MaxMatch = 32, MatchEdges = [1, 4], LambdaRead = [0, 0.99], LambdaUnread = [0, 0.99], // runs of 4 or more
        };
        var client = factory.CreateClient();
        // chunk 0, "Python i", retrieves the store's doc3, whose first r = 16 bytes run on: "prog"
        const string prompt = "Python is a ";
        async Task<string> Generate(object body) =>
            (await (await client.PostAsJsonAsync("/v1/generate", body)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("text").GetString()!;

        string copied = await Generate(new { prompt, maxTokens = 8, k = 2, minNeighbourMatch = 0, neighbourTail = 0 });
        string plain = await Generate(new { prompt, maxTokens = 8, k = 2, minNeighbourMatch = 0, neighbourTail = 0, neighbourCopy = false });
        copied.ShouldStartWith("prog");
        plain.ShouldNotStartWith("prog"); // the scripted decoder writes letters that depend on its last token only
        factory.Decoder.NeighbourCopy = null;
        (await Generate(new { prompt, maxTokens = 8, k = 2, minNeighbourMatch = 0, neighbourTail = 0 })).ShouldBe(plain); // off = no table
    }

    [Fact]
    public async Task Answer_returns_text_neighbours_per_chunk_usage_timings_and_models()
    {
        var client = _factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/answer", new { question = Question, maxTokens = 20, k = 2, candidates = 5 });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("answer").GetString().ShouldNotBeNullOrEmpty();
        body.GetProperty("mode").GetString().ShouldBe("retrieval");
        body.GetProperty("finishReason").GetString().ShouldBe("length");
        body.GetProperty("usage").GetProperty("completionTokens").GetInt32().ShouldBe(20);
        body.GetProperty("usage").GetProperty("promptTokens").GetInt32().ShouldBe(32); // 26 bytes left-padded to 4 chunks of 8

        var chunks = body.GetProperty("chunks").EnumerateArray().ToList();
        // 4 question chunks, then generated tokens complete chunks at positions 39 and 47 (the last token is not fed).
        chunks.Select(c => c.GetProperty("chunkIndex").GetInt32()).ShouldBe([0, 1, 2, 3, 4, 5]);
        var last = chunks[3];
        last.GetProperty("query").GetString().ShouldBe(Question);
        var neighbours = last.GetProperty("neighbours").EnumerateArray().ToList();
        neighbours.Count.ShouldBe(2);
        neighbours[0].GetProperty("text").GetString()!.ShouldContain("Eiffel Tower");
        neighbours[0].GetProperty("url").GetString()!.ShouldStartWith("https://example.org/");
        Guid.TryParse(neighbours[0].GetProperty("chunkId").GetString(), out _).ShouldBeTrue();
        neighbours[0].GetProperty("rerankScore").GetSingle().ShouldBeGreaterThanOrEqualTo(neighbours[1].GetProperty("rerankScore").GetSingle());
        neighbours[0].GetProperty("score").GetSingle().ShouldBeGreaterThan(0f);

        var models = body.GetProperty("models");
        models.GetProperty("encoder").GetString().ShouldBe("hashing@test");
        models.GetProperty("reranker").GetString().ShouldBe("overlap@test");
        models.GetProperty("decoder").GetString().ShouldBe("scripted@test");
        var timings = body.GetProperty("timings");
        foreach (var name in new[] { "embedMs", "searchMs", "fetchMs", "rerankMs", "encodeNeighboursMs", "prefillMs", "decodeMs", "totalMs" })
            timings.GetProperty(name).GetDouble().ShouldBeGreaterThanOrEqualTo(0);
    }

    [Fact]
    public async Task Closed_book_uses_no_neighbours_and_answers_differently()
    {
        var client = _factory.CreateClient();
        var retrieval = await (await client.PostAsJsonAsync("/v1/answer", new { question = Question, maxTokens = 16 })).Content.ReadFromJsonAsync<JsonElement>();
        var closedResponse = await client.PostAsJsonAsync("/v1/answer", new { question = Question, maxTokens = 16, mode = "closed-book" });

        closedResponse.StatusCode.ShouldBe(HttpStatusCode.OK);
        var closed = await closedResponse.Content.ReadFromJsonAsync<JsonElement>();
        closed.GetProperty("mode").GetString().ShouldBe("closed-book");
        closed.GetProperty("chunks").EnumerateArray().ShouldAllBe(c => c.GetProperty("neighbours").GetArrayLength() == 0);
        retrieval.GetProperty("chunks").EnumerateArray().ShouldContain(c => c.GetProperty("neighbours").GetArrayLength() > 0);
        closed.GetProperty("answer").GetString().ShouldNotBe(retrieval.GetProperty("answer").GetString());
    }

    [Fact]
    public async Task Same_seed_gives_the_same_sampled_answer()
    {
        var client = _factory.CreateClient();
        var body = new { question = Question, maxTokens = 12, temperature = 0.8, topP = 0.9, seed = 42 };
        var a = await (await client.PostAsJsonAsync("/v1/answer", body)).Content.ReadFromJsonAsync<JsonElement>();
        var b = await (await client.PostAsJsonAsync("/v1/answer", body)).Content.ReadFromJsonAsync<JsonElement>();
        a.GetProperty("answer").GetString().ShouldBe(b.GetProperty("answer").GetString());
    }

    [Fact]
    public async Task Generate_streams_retrieval_before_the_tokens_that_use_it_then_done()
    {
        var client = _factory.CreateClient();
        const string prompt = "The Eiffel Tower is a landmark of Paris"; // 39 bytes: 4 complete chunks of 8, then 7 more tokens
        var response = await client.PostAsJsonAsync("/v1/generate", new { prompt, maxTokens = 30, stream = true });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        var events = await Sse.ReadAllAsync(response);

        events[^1].Event.ShouldBe("done");
        events.Count(e => e.Event == "done").ShouldBe(1);
        var retrieved = new HashSet<int>();
        var text = "";
        int m = _factory.Decoder.ChunkSize;
        foreach (var (name, data) in events[..^1])
        {
            if (name == "retrieval")
            {
                int chunk = data.GetProperty("chunkIndex").GetInt32();
                retrieved.Add(chunk).ShouldBeTrue();
                // Retrieval for chunk u comes once its last token exists, i.e. after the token at u·m + m − 1.
                continue;
            }
            name.ShouldBe("token");
            int position = data.GetProperty("position").GetInt32();
            // The token at p was produced at position p − 1, which attends to chunk floor(p / m) − 1's neighbours.
            int needs = position / m - 1;
            if (needs >= 0) retrieved.ShouldContain(needs, $"token at {position} came before the retrieval of chunk {needs}");
            text += data.GetProperty("text").GetString();
        }
        retrieved.ShouldBe(Enumerable.Range(0, (39 + 30 - 1) / m)); // every completed, fed chunk
        var done = events[^1].Data;
        done.GetProperty("text").GetString().ShouldBe(text);
        done.GetProperty("usage").GetProperty("completionTokens").GetInt32().ShouldBe(30);
        done.GetProperty("chunks").GetArrayLength().ShouldBe(retrieved.Count);
    }

    [Fact]
    public async Task Answer_streams_when_asked()
    {
        var client = _factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/answer", new { question = Question, maxTokens = 5, stream = true });
        var events = await Sse.ReadAllAsync(response);
        events.Select(e => e.Event).ShouldBe(["retrieval", "retrieval", "retrieval", "retrieval", "token", "token", "token", "token", "token", "done"]);
        events[^1].Data.GetProperty("answer").GetString()!.Length.ShouldBe(5);
    }

    [Fact]
    public async Task Stop_text_ends_the_answer_and_is_not_returned()
    {
        var client = _factory.CreateClient();
        var full = await (await client.PostAsJsonAsync("/v1/generate", new { prompt = "abc", maxTokens = 12, mode = "closed-book" })).Content.ReadFromJsonAsync<JsonElement>();
        string text = full.GetProperty("text").GetString()!;
        string stop = text.Substring(5, 2);
        var stopped = await (await client.PostAsJsonAsync("/v1/generate", new { prompt = "abc", maxTokens = 12, mode = "closed-book", stop = new[] { stop } })).Content.ReadFromJsonAsync<JsonElement>();
        stopped.GetProperty("finishReason").GetString().ShouldBe("stop");
        stopped.GetProperty("text").GetString().ShouldBe(text[..text.IndexOf(stop, StringComparison.Ordinal)]);
    }

    [Fact]
    public async Task Retrieve_returns_reranked_chunks_best_first()
    {
        var client = _factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/retrieve", new { query = "highest mountain", k = 3, candidates = 5 });
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var neighbours = body.GetProperty("neighbours").EnumerateArray().ToList();
        neighbours.Count.ShouldBe(3);
        neighbours[0].GetProperty("text").GetString()!.ShouldContain("Everest");
        var scores = neighbours.Select(n => n.GetProperty("rerankScore").GetSingle()).ToList();
        scores.ShouldBe(scores.OrderByDescending(s => s).ToList());
    }
}
