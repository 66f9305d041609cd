using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Retro.VectorStore.Qdrant.Tests.Spec;

namespace Retro.VectorStore.Qdrant.Tests.Emulator;

/// <summary>
/// An in-process stand-in for a Qdrant server, as an <see cref="HttpMessageHandler"/>. It is a test double, not
/// Qdrant: it checks every request against Qdrant's OpenAPI document (unknown operations, undeclared query parameters
/// and bodies that do not match the schema are answered 400 and recorded in <see cref="SpecViolations"/>), implements
/// in memory the subset of Qdrant's semantics Retro uses (collections, aliases, payload indexes, upsert, retrieve,
/// delete, count, scroll, exact brute-force query with filters, snapshots, health), and checks that each of its own
/// answers matches the document's response schema. It proves our requests are spec-valid and our client logic right;
/// Qdrant's real behaviour (HNSW recall, durability, clustering) is only exercised by the live tests.
/// </summary>
internal sealed partial class QdrantEmulator : HttpMessageHandler
{
    private readonly object _gate = new();
    private readonly OpenApiSpec _spec = OpenApiSpec.Instance;
    private readonly Dictionary<string, EmulatedCollection> _collections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _aliases = new(StringComparer.Ordinal);
    private readonly List<string> _violations = [];
    private readonly List<RecordedRequest> _requests = [];
    private long _operationId;
    private int _snapshots;

    /// <summary>When set, every request but the health probes must carry this <c>api-key</c> header (else 401, plain text, as Qdrant).</summary>
    public string? ApiKey { get; init; }

    /// <summary>While true every request fails as a refused connection.</summary>
    public bool Unreachable { get; set; }

    /// <summary>Runs before each request; a non-null answer is returned as is (fault injection).</summary>
    public Func<HttpRequestMessage, HttpResponseMessage?>? Intercept { get; set; }

    /// <summary>Requests that broke the OpenAPI contract (each was answered 400).</summary>
    public IReadOnlyList<string> SpecViolations { get { lock (_gate) return [.. _violations]; } }

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests { get { lock (_gate) return [.. _requests]; } }

    /// <summary>Names of the collections held (aliases excluded).</summary>
    public IReadOnlyList<string> CollectionNames { get { lock (_gate) return [.. _collections.Keys]; } }

    /// <summary>An <see cref="HttpClient"/> over this emulator (the handler is not disposed with it).</summary>
    public HttpClient CreateHttpClient() => new(this, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        byte[]? body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var uri = request.RequestUri ?? throw new InvalidOperationException("Request without a uri.");
        var recorded = new RecordedRequest(request.Method.Method, uri.PathAndQuery,
            request.Headers.TryGetValues("api-key", out var keys) ? keys.FirstOrDefault() : null,
            body is null ? null : Encoding.UTF8.GetString(body));
        lock (_gate) _requests.Add(recorded);

        if (Unreachable) throw new HttpRequestException("Connection refused (emulated)", new System.Net.Sockets.SocketException(111));
        if (Intercept?.Invoke(request) is { } intercepted) return intercepted;

        var errors = _spec.ValidateRequest(request.Method.Method, uri, request.Content?.Headers.ContentType?.ToString(), body);
        if (errors.Count > 0)
        {
            lock (_gate) _violations.AddRange(errors);
            return Error(HttpStatusCode.BadRequest, "OpenAPI violation: " + string.Join("; ", errors));
        }
        var operation = _spec.Find(request.Method.Method, uri.AbsolutePath)!;
        if (ApiKey is not null && operation.Id is not ("readyz" or "healthz" or "livez") && recorded.ApiKey != ApiKey)
            return new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("Must provide an API key or an Authorization bearer token", Encoding.UTF8, "text/plain") };

        var query = ParseQuery(uri.Query);
        JsonNode? json = body is { Length: > 0 } ? JsonNode.Parse(body) : null;
        Answer answer;
        try
        {
            lock (_gate) answer = Handle(operation, query, json);
        }
        catch (EmulatedError e)
        {
            return Error(e.Status, e.Message);
        }
        return Respond(operation, answer);
    }

    private Answer Handle(Operation operation, Dictionary<string, string> query, JsonNode? body)
    {
        string? Name() => operation.PathParameters.TryGetValue("collection_name", out var n) ? n : null;
        bool wait = query.TryGetValue("wait", out var w) && w == "true";
        return operation.Id switch
        {
            "readyz" => Answer.Text("all shards are ready"),
            "healthz" => Answer.Text("healthz check passed"),
            "livez" => Answer.Text("healthz check passed"),
            "get_collections" => Answer.Ok(ListCollections()),
            "get_collection" => Answer.Ok(Collection(Name()!).Info()),
            "collection_exists" => Answer.Ok(new JsonObject { ["exists"] = TryCollection(Name()!) is not null }),
            "create_collection" => Answer.Ok(CreateCollection(Name()!, body!)),
            "delete_collection" => Answer.Ok(DeleteCollection(Name()!)),
            "update_aliases" => Answer.Ok(UpdateAliases(body!)),
            "get_collections_aliases" => Answer.Ok(ListAliases(null)),
            "get_collection_aliases" => Answer.Ok(ListAliases(Resolve(Name()!))),
            "create_field_index" => Answer.Ok(Update(Collection(Name()!).CreateIndex(body!), wait)),
            "upsert_points" => Answer.Ok(Update(Collection(Name()!).Upsert(body!, ++_operationId), wait)),
            "delete_points" => Answer.Ok(Update(Collection(Name()!).Delete(body!), wait)),
            "get_points" => Answer.Ok(Collection(Name()!).Retrieve(body!)),
            "count_points" => Answer.Ok(Collection(Name()!).Count(body)),
            "scroll_points" => Answer.Ok(Collection(Name()!).Scroll(body)),
            "query_points" => Answer.Ok(Collection(Name()!).Query(body)),
            "query_batch_points" => Answer.Ok(QueryBatch(Collection(Name()!), body!)),
            "create_snapshot" => Answer.Ok(Collection(Name()!).CreateSnapshot(++_snapshots)),
            "list_snapshots" => Answer.Ok(Collection(Name()!).ListSnapshots()),
            _ => throw new EmulatedError(HttpStatusCode.BadRequest, $"The emulator does not implement {operation}."),
        };
    }

    private JsonObject Update(bool _, bool wait) => new()
    {
        ["operation_id"] = ++_operationId,
        ["status"] = wait ? "completed" : "acknowledged",
    };

    private static JsonArray QueryBatch(EmulatedCollection collection, JsonNode body)
    {
        var results = new JsonArray();
        foreach (var search in body["searches"]!.AsArray()) results.Add(collection.Query(search));
        return results;
    }

    private string Resolve(string name) => _aliases.TryGetValue(name, out var target) ? target : name;

    private EmulatedCollection? TryCollection(string name) => _collections.GetValueOrDefault(Resolve(name));

    private EmulatedCollection Collection(string name)
        => TryCollection(name) ?? throw new EmulatedError(HttpStatusCode.NotFound, $"Not found: Collection `{name}` doesn't exist!");

    // ---------------------------------------------------------------- answers

    private HttpResponseMessage Respond(Operation operation, Answer answer)
    {
        if (answer.PlainText is { } text)
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(text, Encoding.UTF8, "text/plain") };
        var envelope = new JsonObject { ["result"] = answer.Result, ["status"] = "ok", ["time"] = 0.000125 };
        string json = envelope.ToJsonString();
        if (_spec.ResponseSchema(operation, 200) is { } schema)
        {
            var errors = _spec.Validator.Validate(schema, JsonDocument.Parse(json).RootElement);
            if (errors.Count > 0) throw new InvalidOperationException($"The emulator answered {operation} outside the spec: {string.Join("; ", errors)}");
        }
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    }

    /// <summary>Qdrant's JSON error body, checked against the document's ErrorResponse schema.</summary>
    public static HttpResponseMessage Error(HttpStatusCode status, string message)
    {
        string json = new JsonObject { ["status"] = new JsonObject { ["error"] = message }, ["time"] = 0.0 }.ToJsonString();
        var spec = OpenApiSpec.Instance;
        var errors = spec.Validator.Validate(spec.Schema("ErrorResponse"), JsonDocument.Parse(json).RootElement);
        if (errors.Count > 0) throw new InvalidOperationException($"Emulator error body outside the spec: {string.Join("; ", errors)}");
        return new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    }

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq < 0) result[Uri.UnescapeDataString(pair)] = "";
            else result[Uri.UnescapeDataString(pair[..eq])] = Uri.UnescapeDataString(pair[(eq + 1)..]);
        }
        return result;
    }

    private readonly record struct Answer(JsonNode? Result, string? PlainText)
    {
        public static Answer Ok(JsonNode? result) => new(result, null);
        public static Answer Text(string text) => new(null, text);
    }
}

/// <summary>A request as the emulator received it.</summary>
internal sealed record RecordedRequest(string Method, string PathAndQuery, string? ApiKey, string? Body);

/// <summary>A Qdrant error answer raised inside the emulator's handlers.</summary>
internal sealed class EmulatedError(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}
