using System.Text;
using System.Text.Json;

namespace Retro.VectorStore.Qdrant.Tests.Spec;

/// <summary>The spec checker itself: it accepts what the spec allows and rejects what it does not.</summary>
public sealed class SchemaValidatorTests
{
    private static readonly OpenApiSpec Spec = OpenApiSpec.Instance;

    private static List<string> Check(string schema, string json)
        => Spec.Validator.Validate(Spec.Schema(schema), JsonDocument.Parse(json).RootElement);

    [Fact]
    public void Document_IsQdrant_1_19()
    {
        // info.version reads "master" (docs/redoc/master at the 1.19.0 release commit, see PROVENANCE.md).
        Spec.Document.GetProperty("openapi").GetString().ShouldStartWith("3.0");
        Spec.Find("POST", "/collections/retro/points/query/batch").ShouldNotBeNull().Id.ShouldBe("query_batch_points");
        Spec.Find("POST", "/collections/retro/points/query").ShouldNotBeNull().Id.ShouldBe("query_points");
        Spec.Find("POST", "/collections/retro/points/search").ShouldBeNull("the legacy search path is gone from 1.19's document");
    }

    [Fact]
    public void Find_PrefersLiteralSegments()
    {
        Spec.Find("POST", "/collections/aliases").ShouldNotBeNull().Id.ShouldBe("update_aliases");
        Spec.Find("GET", "/collections/retro").ShouldNotBeNull().Id.ShouldBe("get_collection");
        Spec.Find("GET", "/collections/retro").ShouldNotBeNull().PathParameters["collection_name"].ShouldBe("retro");
    }

    [Fact]
    public void ValidBodies_Pass()
    {
        Check("QueryRequest", """{"query":[0.1,0.2],"limit":3,"filter":{"must":[{"key":"document_id","match":{"any":["a","b"]}}],"must_not":[{"key":"document_id","match":{"value":"c"}}]},"params":{"hnsw_ef":64},"with_payload":false}""").ShouldBeEmpty();
        Check("PointInsertOperations", """{"points":[{"id":"550e8400-e29b-41d4-a716-446655440000","vector":[1,2],"payload":{"a":1}}]}""").ShouldBeEmpty();
        Check("PointsSelector", """{"filter":{"must":[{"key":"document_id","match":{"value":"x"}}]}}""").ShouldBeEmpty();
        Check("CreateCollection", """{"vectors":{"size":4,"distance":"Cosine"},"hnsw_config":{"m":16,"ef_construct":100},"quantization_config":{"scalar":{"type":"int8","quantile":0.99,"always_ram":true}}}""").ShouldBeEmpty();
    }

    [Fact]
    public void MisspeltMember_FailsInStrictMode()
    {
        var errors = Check("SearchParams", """{"hnsw_eff":64}""");
        errors.ShouldHaveSingleItem().ShouldContain("hnsw_eff");
        new SchemaValidator(Spec.Document, strict: false).Validate(Spec.Schema("SearchParams"), JsonDocument.Parse("""{"hnsw_eff":64}""").RootElement).ShouldBeEmpty();
    }

    [Fact]
    public void ClosedObject_RejectsUnknownMember_EvenWhenNotStrict()
    {
        var lenient = new SchemaValidator(Spec.Document, strict: false);
        lenient.Validate(Spec.Schema("Filter"), JsonDocument.Parse("""{"must":[],"should_not":[]}""").RootElement).ShouldNotBeEmpty();
    }

    [Theory]
    [InlineData("QueryRequest", """{"limit":0}""", "minimum")]
    [InlineData("QueryRequest", """{"limit":-3}""", "")]
    [InlineData("QueryRequest", """{"limit":"3"}""", "expected")]
    [InlineData("VectorParams", """{"size":4}""", "distance")]
    [InlineData("VectorParams", """{"size":4,"distance":"Cosinus"}""", "not one of")]
    [InlineData("PointStruct", """{"id":"not-a-uuid","vector":[1]}""", "anyOf")]
    [InlineData("PointStruct", """{"id":-1,"vector":[1]}""", "anyOf")]
    [InlineData("MatchAny", """{"any":["a","a"]}""", "anyOf")]
    [InlineData("CreateAlias", """{"alias_name":"a"}""", "collection_name")]
    [InlineData("CountRequest", """{"exact":"yes"}""", "expected")]
    public void InvalidBodies_Fail(string schema, string json, string expected)
    {
        var errors = Check(schema, json);
        errors.ShouldNotBeEmpty();
        string.Join("\n", errors).ShouldContain(expected);
    }

    [Fact]
    public void NullableOnlyBranch_AcceptsNullButNotAnything()
    {
        // ScrollRequest.offset is anyOf [ExtendedPointId, {nullable: true}].
        Check("ScrollRequest", """{"offset":null}""").ShouldBeEmpty();
        Check("ScrollRequest", """{"offset":42}""").ShouldBeEmpty();
        Check("ScrollRequest", """{"offset":{"x":1}}""").ShouldNotBeEmpty("a literal reading of {nullable: true} would accept this");
    }

    [Fact]
    public void Requests_CheckPathMethodQueryAndBody()
    {
        byte[] Body(string json) => Encoding.UTF8.GetBytes(json);
        var good = Spec.ValidateRequest("PUT", new Uri("http://q/collections/c/points?wait=true"), "application/json", Body("""{"points":[]}"""));
        good.ShouldBeEmpty();
        Spec.ValidateRequest("POST", new Uri("http://q/collections/c/points/search"), "application/json", Body("{}")).ShouldHaveSingleItem().ShouldContain("no such operation");
        Spec.ValidateRequest("PUT", new Uri("http://q/collections/c/points?wait=1"), "application/json", Body("""{"points":[]}""")).ShouldHaveSingleItem().ShouldContain("wait");
        Spec.ValidateRequest("PUT", new Uri("http://q/collections/c/points?waiting=true"), "application/json", Body("""{"points":[]}""")).ShouldHaveSingleItem().ShouldContain("not declared");
        Spec.ValidateRequest("GET", new Uri("http://q/collections/c"), "application/json", Body("{}")).ShouldHaveSingleItem().ShouldContain("takes no body");
        Spec.ValidateRequest("PUT", new Uri("http://q/collections/c/points"), "text/plain", Body("""{"points":[]}""")).ShouldHaveSingleItem().ShouldContain("text/plain");
        Spec.ValidateRequest("PUT", new Uri("http://q/collections/c/points"), "application/json", Body("""{"points":[{"id":1}]}""")).ShouldNotBeEmpty();
    }

    /// <summary>
    /// Every component schema, generated in every shape, validates against itself: the generator builds what the
    /// spec allows and the validator accepts what the generator builds.
    /// </summary>
    [Fact]
    public void GeneratedInstances_OfEveryComponentSchema_Validate()
    {
        var failures = new List<string>();
        int checkedCount = 0;
        foreach (var shape in Enum.GetValues<InstanceShape>())
        {
            var generator = new SchemaInstanceGenerator(Spec.Validator, shape);
            foreach (var schema in Spec.Document.GetProperty("components").GetProperty("schemas").EnumerateObject())
            {
                var instance = generator.Generate(schema.Value);
                var json = JsonDocument.Parse(instance?.ToJsonString() ?? "null").RootElement;
                var errors = Spec.Validator.Validate(schema.Value, json);
                if (errors.Count > 0) failures.Add($"{shape} {schema.Name}: {errors[0]} in {Truncate(json.GetRawText())}");
                checkedCount++;
            }
        }
        checkedCount.ShouldBeGreaterThan(600);
        failures.ShouldBeEmpty();
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
