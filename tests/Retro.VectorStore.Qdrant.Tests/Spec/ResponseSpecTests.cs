using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Retro.VectorStore.Qdrant.Rest;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests.Spec;

/// <summary>
/// Every response the client parses, built from the operation's 200 schema in Qdrant's OpenAPI document (required
/// members only; every member with the spec's examples; the other anyOf branches such as numeric ids), is read by the
/// client's types without error.
/// </summary>
public sealed class ResponseSpecTests
{
    private static readonly OpenApiSpec Spec = OpenApiSpec.Instance;

    public static TheoryData<InstanceShape> Shapes => [InstanceShape.Minimal, InstanceShape.Full, InstanceShape.FullLastBranch];

    /// <summary>Answers each request with a generated, spec-valid body for its operation.</summary>
    private sealed class SpecResponder(InstanceShape shape) : HttpMessageHandler
    {
        private readonly SchemaInstanceGenerator _generator = new(Spec.Validator, shape);

        public List<string> Answered { get; } = [];

        public JsonNode? ResultFor(string method, string path)
        {
            var operation = Spec.Find(method, path)!;
            var schema = Spec.ResponseSchema(operation, 200)!.Value;
            var result = _generator.Generate(schema.GetProperty("properties").GetProperty("result"));
            // wait=true writes answer "completed" (the first enum value, "acknowledged", is the wait=false answer).
            if (result is JsonObject update && update.ContainsKey("status") && operation.Id is "upsert_points" or "delete_points") update["status"] = "completed";
            return result;
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var operation = Spec.Find(request.Method.Method, request.RequestUri!.AbsolutePath) ?? throw new InvalidOperationException($"not in spec: {request.RequestUri}");
            Answered.Add(operation.Id);
            if (Spec.ResponseMediaType(operation, 200) == "text/plain")
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("all shards are ready", Encoding.UTF8, "text/plain") });
            var envelope = new JsonObject { ["result"] = ResultFor(request.Method.Method, request.RequestUri.AbsolutePath), ["status"] = "ok", ["time"] = 0.002 };
            string json = envelope.ToJsonString();
            var errors = Spec.Validator.Validate(Spec.ResponseSchema(operation, 200)!.Value, JsonDocument.Parse(json).RootElement);
            if (errors.Count > 0) throw new InvalidOperationException($"generated response for {operation} is not spec-valid: {errors[0]}");
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(json, Encoding.UTF8, "application/json") });
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task EveryParsedResponse_ReadsSpecShapedJson(InstanceShape shape)
    {
        var responder = new SpecResponder(shape);
        using var client = TestSupport.Client(responder);
        const string c = "c";

        (await client.IsReadyAsync()).ShouldBeTrue();
        await client.ListCollectionsAsync();
        var info = await client.GetCollectionAsync(c);
        info.ShouldNotBeNull();
        if (shape != InstanceShape.Minimal) info.Config.Params.Vectors.ShouldNotBeNull();
        await client.CollectionExistsAsync(c);
        await client.CreateCollectionAsync(c, new CreateCollectionRequest { Vectors = new VectorParams { Size = 3, Distance = QdrantDistance.Cosine } });
        await client.DeleteCollectionAsync(c);
        await client.UpdateAliasesAsync([AliasOperation.Create("a", c)]);
        await client.ListAliasesAsync();
        await client.ListCollectionAliasesAsync(c);
        await client.CreatePayloadIndexAsync(c, "document_id", PayloadSchemaType.Keyword);
        await client.UpsertPointsAsync(c, [new PointStruct { Id = PointId.FromNumber(1), Vector = new float[] { 1, 2, 3 } }]);
        await client.DeletePointsAsync(c, new PointsSelector { Points = [PointId.FromNumber(1)] });

        var records = await client.RetrievePointsAsync(c, new PointRequest { Ids = [PointId.FromNumber(1)] });
        records.Count.ShouldBe(JsonCount(responder.ResultFor("POST", "/collections/c/points")));
        foreach (var record in records) _ = record.DenseVector();
        await client.CountPointsAsync(c, new CountRequest());
        var page = await client.ScrollPointsAsync(c, new ScrollRequest());
        page.Points.Count.ShouldBe(JsonCount(responder.ResultFor("POST", "/collections/c/points/scroll")!["points"]));
        var found = await client.QueryPointsAsync(c, new QueryRequest { Query = new float[] { 1, 2, 3 }, Limit = 1 });
        found.Points.Count.ShouldBe(JsonCount(responder.ResultFor("POST", "/collections/c/points/query")!["points"]));

        int batch = JsonCount(responder.ResultFor("POST", "/collections/c/points/query/batch"));
        var queries = Enumerable.Range(0, batch).Select(_ => new QueryRequest { Query = new float[] { 1, 2, 3 }, Limit = 1 }).ToList();
        (await client.QueryBatchAsync(c, queries)).Count.ShouldBe(batch);
        (await client.CreateSnapshotAsync(c)).Name.ShouldNotBeNull();
        await client.ListSnapshotsAsync(c);

        responder.Answered.Distinct().Count().ShouldBe(19, "every operation the client implements");
    }

    [Fact]
    public async Task NumericAndUuidIds_BothParse()
    {
        var numeric = new SpecResponder(InstanceShape.Full).ResultFor("POST", "/collections/c/points/query")!["points"]![0]!["id"]!;
        var uuid = new SpecResponder(InstanceShape.FullLastBranch).ResultFor("POST", "/collections/c/points/query")!["points"]![0]!["id"]!;
        var n = JsonSerializer.Deserialize<PointId>(numeric.ToJsonString(), new JsonSerializerOptions { TypeInfoResolver = QdrantJsonContext.Default });
        var u = JsonSerializer.Deserialize<PointId>(uuid.ToJsonString(), new JsonSerializerOptions { TypeInfoResolver = QdrantJsonContext.Default });
        n.IsUuid.ShouldBeFalse();
        n.Number.ShouldBe(42ul);
        u.IsUuid.ShouldBeTrue();
        u.ToString().ShouldBe("550e8400-e29b-41d4-a716-446655440000");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task ErrorResponses_SurfaceQdrantsText(InstanceShape shape)
    {
        var body = new SchemaInstanceGenerator(Spec.Validator, shape).Generate(Spec.Schema("ErrorResponse"))!.ToJsonString();
        Spec.Validator.Validate(Spec.Schema("ErrorResponse"), JsonDocument.Parse(body).RootElement).ShouldBeEmpty();
        var handler = new ScriptedHandler(ScriptedHandler.Reply(HttpStatusCode.BadRequest, body));
        using var client = TestSupport.Client(handler);

        var e = await Should.ThrowAsync<QdrantException>(() => client.CountPointsAsync("c", new CountRequest()));

        e.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        e.Operation.ShouldBe("POST /collections/c/points/count");
        e.Error.ShouldBe(shape == InstanceShape.Minimal ? "{}" : "text"); // status.error when present, else the raw body
        handler.Calls.ShouldBe(1, "4xx is not retried");
    }

    private static int JsonCount(JsonNode? node) => node is JsonArray array ? array.Count : throw new InvalidOperationException("expected an array");
}
