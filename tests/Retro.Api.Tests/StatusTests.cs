using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Retro.Api.Tests;

/// <summary>One test per status path: 400 per validation rule, 401, 413, 429, 503, health and the OpenAPI document.</summary>
public sealed class StatusTests : IClassFixture<RetroApiFactory>
{
    private readonly RetroApiFactory _factory;

    public StatusTests(RetroApiFactory factory) => _factory = factory;

    public static TheoryData<string, string, string> InvalidBodies => new()
    {
        { "/v1/answer", """{"question": ""}""", "question" },
        { "/v1/answer", """{"question": "   "}""", "question" },
        { "/v1/answer", """{"mode": "retrieval"}""", "question" },
        { "/v1/answer", $$"""{"question": "{{new string('q', 2001)}}"}""", "question" },
        { "/v1/answer", """{"question": "hi", "mode": "open-book"}""", "mode" },
        { "/v1/answer", """{"question": "hi", "k": 0}""", "k" },
        { "/v1/answer", """{"question": "hi", "k": 65}""", "k" },
        { "/v1/answer", """{"question": "hi", "k": 8, "candidates": 4}""", "candidates" },
        { "/v1/answer", """{"question": "hi", "candidates": 1001}""", "candidates" },
        { "/v1/answer", """{"question": "hi", "maxTokens": 0}""", "maxTokens" },
        { "/v1/answer", """{"question": "hi", "maxTokens": 1025}""", "maxTokens" },
        { "/v1/answer", """{"question": "hi", "temperature": -0.5}""", "temperature" },
        { "/v1/answer", """{"question": "hi", "topP": 0}""", "topP" },
        { "/v1/answer", """{"question": "hi", "repetitionPenalty": 0.5}""", "repetitionPenalty" },
        { "/v1/answer", """{"question": "hi", "noRepeatNgramSize": -1}""", "noRepeatNgramSize" },
        { "/v1/generate", """{"prompt": "x", "noRepeatNgramSize": 65}""", "noRepeatNgramSize" },
        { "/v1/answer", """{"question": "hi", "minNeighbourMatch": -0.1}""", "minNeighbourMatch" },
        { "/v1/generate", """{"prompt": "x", "minNeighbourMatch": 1.5}""", "minNeighbourMatch" },
        { "/v1/generate", """{"prompt": "x", "neighbourTail": 65}""", "neighbourTail" },
        { "/v1/answer", """{"question": "hi", "neighbourTail": -1}""", "neighbourTail" },
        { "/v1/generate", """{"prompt": ""}""", "prompt" },
        { "/v1/generate", """{"prompt": "x", "topK": -1}""", "topK" },
        { "/v1/generate", """{"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}""", "stop" },
        { "/v1/generate", """{"prompt": "x", "stop": [""]}""", "stop" },
        { "/v1/retrieve", """{"query": ""}""", "query" },
        { "/v1/retrieve", """{"query": "x", "k": 100}""", "k" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Invalid_field_is_a_400_problem_naming_it(string path, string json, string field)
    {
        var response = await _factory.CreateClient().PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("status").GetInt32().ShouldBe(400);
        problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ShouldBe([field]);
    }

    [Fact]
    public async Task Prompt_longer_than_the_decoder_context_is_a_400_on_prompt()
    {
        // 600 bytes > the scripted decoder's 512 positions.
        var response = await _factory.CreateClient().PostAsJsonAsync("/v1/generate", new { prompt = new string('x', 600) });
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").GetProperty("prompt")[0].GetString()!.ShouldContain("512");
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    public async Task Unreadable_body_is_a_400_problem(string body)
    {
        var response = await _factory.CreateClient().PostAsync("/v1/answer", new StringContent(body, Encoding.UTF8, "application/json"));
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task Oversized_body_is_a_413_problem()
    {
        string json = $$"""{"question": "{{new string('q', 70_000)}}"}""";
        var response = await _factory.CreateClient().PostAsync("/v1/answer", new StringContent(json, Encoding.UTF8, "application/json"));
        response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task Alive_and_health_report_models_and_store()
    {
        var client = _factory.CreateClient();
        (await client.GetAsync("/alive")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var health = await client.GetAsync("/health");
        health.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await health.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("status").GetString().ShouldBe("Healthy");
        body.GetProperty("checks").GetProperty("models").GetProperty("data").GetProperty("decoder").GetString().ShouldBe("scripted@test");
        body.GetProperty("checks").GetProperty("store").GetProperty("data").GetProperty("points").GetInt64().ShouldBe(5);
    }

    [Fact]
    public async Task OpenApi_document_names_and_summarises_every_endpoint()
    {
        var doc = await _factory.CreateClient().GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = doc.GetProperty("paths");
        foreach (var (path, id) in new[] { ("/v1/answer", "Answer"), ("/v1/generate", "Generate"), ("/v1/retrieve", "Retrieve") })
        {
            var post = paths.GetProperty(path).GetProperty("post");
            post.GetProperty("operationId").GetString().ShouldBe(id);
            post.GetProperty("summary").GetString().ShouldNotBeNullOrEmpty();
            post.GetProperty("responses").EnumerateObject().Select(r => r.Name).ShouldContain("429");
        }
        paths.GetProperty("/health").GetProperty("get").GetProperty("operationId").GetString().ShouldBe("Health");
        paths.GetProperty("/alive").GetProperty("get").GetProperty("operationId").GetString().ShouldBe("Alive");
        var answer = paths.GetProperty("/v1/answer").GetProperty("post").GetProperty("responses").GetProperty("200").GetProperty("content");
        answer.EnumerateObject().Select(c => c.Name).ShouldBe(["application/json", "text/event-stream"], ignoreOrder: true);
    }

    [Fact]
    public async Task Page_is_served_self_contained()
    {
        var response = await _factory.CreateClient().GetAsync("/");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        string html = await response.Content.ReadAsStringAsync();
        html.ShouldContain("/v1/answer");
        html.ShouldNotContain("<script src=\"http");
    }
}

public sealed class ApiKeyTests : IDisposable
{
    private const string Key = "s3cret-key";
    private readonly RetroApiFactory _factory = new(new() { ["Retro:Service:ApiKey"] = Key });

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Missing_or_wrong_key_is_a_401_problem()
    {
        var client = _factory.CreateClient();
        var missing = await client.PostAsJsonAsync("/v1/answer", new { question = "hi", maxTokens = 2 });
        missing.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        missing.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await missing.Content.ReadAsStringAsync()).ShouldNotContain(Key);

        var wrong = new HttpRequestMessage(HttpMethod.Post, "/v1/answer") { Content = JsonContent.Create(new { question = "hi", maxTokens = 2 }) };
        wrong.Headers.Add("X-Api-Key", Key + "x");
        (await client.SendAsync(wrong)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Key_as_header_or_bearer_is_accepted_and_health_stays_open()
    {
        var client = _factory.CreateClient();
        var header = new HttpRequestMessage(HttpMethod.Post, "/v1/answer") { Content = JsonContent.Create(new { question = "hi", maxTokens = 2 }) };
        header.Headers.Add("X-Api-Key", Key);
        (await client.SendAsync(header)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var bearer = new HttpRequestMessage(HttpMethod.Post, "/v1/retrieve") { Content = JsonContent.Create(new { query = "hi" }) };
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        (await client.SendAsync(bearer)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await client.GetAsync("/alive")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}

public sealed class StoreOutageTests : IDisposable
{
    private readonly RetroApiFactory _factory = new(new() { ["Retro:Service:RetryAfterSeconds"] = "7" });

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Store_down_is_a_503_problem_with_retry_after_while_closed_book_still_answers()
    {
        var client = _factory.CreateClient();
        (await client.GetAsync("/alive")).StatusCode.ShouldBe(HttpStatusCode.OK); // start the host while the store is up
        _factory.Store.Down = true;

        foreach (var (path, body) in new (string, object)[] { ("/v1/answer", new { question = "Where is Paris?" }), ("/v1/retrieve", new { query = "Paris" }), ("/v1/generate", new { prompt = "Paris is", stream = true }) })
        {
            var response = await client.PostAsJsonAsync(path, body);
            response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable, path);
            response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
            response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(7));
        }

        var closed = await client.PostAsJsonAsync("/v1/answer", new { question = "Where is Paris?", mode = "closed-book", maxTokens = 4 });
        closed.StatusCode.ShouldBe(HttpStatusCode.OK);

        var health = await client.GetAsync("/health");
        health.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
    }
}
