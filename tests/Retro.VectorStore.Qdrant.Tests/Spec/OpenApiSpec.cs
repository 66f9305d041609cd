using System.Text.Json;

namespace Retro.VectorStore.Qdrant.Tests.Spec;

/// <summary>
/// Qdrant's OpenAPI document (<c>shared/qdrant/openapi.json</c>, v1.19.0) and checks of requests and responses
/// against it: the path and method exist, query parameters are declared and well-typed, bodies match their schemas.
/// Loaded once per test run.
/// </summary>
internal sealed class OpenApiSpec
{
    /// <summary>Environment variable that overrides where the document is read from.</summary>
    public const string PathVariable = "QDRANT_OPENAPI";

    private static readonly Lazy<OpenApiSpec> Shared = new(() => new OpenApiSpec(Locate()));

    private readonly List<(string Template, string[] Segments, JsonElement Item)> _paths = [];

    private OpenApiSpec(string file)
    {
        File = file;
        Document = JsonDocument.Parse(System.IO.File.ReadAllBytes(file)).RootElement;
        Validator = new SchemaValidator(Document, strict: true);
        Version = Document.GetProperty("info").GetProperty("version").GetString()!;
        foreach (var path in Document.GetProperty("paths").EnumerateObject())
            _paths.Add((path.Name, path.Name.Trim('/').Split('/'), path.Value));
    }

    /// <summary>The document of this run.</summary>
    public static OpenApiSpec Instance => Shared.Value;

    public string File { get; }
    public string Version { get; }
    public JsonElement Document { get; }
    public SchemaValidator Validator { get; }

    /// <summary>A component schema by name.</summary>
    public JsonElement Schema(string name) => Document.GetProperty("components").GetProperty("schemas").GetProperty(name);

    /// <summary>
    /// The operation for <paramref name="method"/> on <paramref name="path"/> (no query), preferring the template
    /// with the most literal segments (<c>/collections/aliases</c> over <c>/collections/{collection_name}</c>).
    /// </summary>
    public Operation? Find(string method, string path)
    {
        string[] segments = Uri.UnescapeDataString(path).Trim('/').Split('/');
        if (path.Trim('/').Length == 0) segments = [""];
        Operation? best = null;
        int bestLiterals = -1;
        foreach (var (template, templateSegments, item) in _paths)
        {
            if (templateSegments.Length != segments.Length) continue;
            if (!item.TryGetProperty(method.ToLowerInvariant(), out var operation)) continue;
            int literals = 0;
            var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
            bool match = true;
            for (int i = 0; i < segments.Length && match; i++)
            {
                string t = templateSegments[i];
                if (t.StartsWith('{') && t.EndsWith('}')) parameters[t[1..^1]] = segments[i];
                else if (t == segments[i]) literals++;
                else match = false;
            }
            if (match && literals > bestLiterals)
            {
                best = new Operation(template, method.ToUpperInvariant(), operation, parameters);
                bestLiterals = literals;
            }
        }
        return best;
    }

    /// <summary>Everything wrong with a request as the server's contract sees it (empty when valid).</summary>
    public List<string> ValidateRequest(string method, Uri uri, string? contentType, byte[]? body)
    {
        var errors = new List<string>();
        var operation = Find(method, uri.AbsolutePath);
        if (operation is null)
        {
            errors.Add($"{method} {uri.AbsolutePath}: no such operation in Qdrant's OpenAPI {Version}");
            return errors;
        }
        var declared = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (operation.Item.TryGetProperty("parameters", out var parameters))
        {
            foreach (var parameter in parameters.EnumerateArray())
            {
                string name = parameter.GetProperty("name").GetString()!;
                string location = parameter.GetProperty("in").GetString()!;
                if (location == "query") declared[name] = parameter.GetProperty("schema");
                if (location == "path" && !operation.PathParameters.ContainsKey(name)) errors.Add($"{operation}: path parameter '{name}' missing");
            }
        }
        foreach (var (name, value) in ParseQuery(uri.Query))
        {
            if (!declared.TryGetValue(name, out var schema)) { errors.Add($"{operation}: query parameter '{name}' is not declared"); continue; }
            var parsed = QueryValue(schema, value);
            if (parsed is null) { errors.Add($"{operation}: query parameter {name}={value} is not a {schema.GetRawText()}"); continue; }
            errors.AddRange(Validator.Validate(schema, parsed.Value, $"?{name}"));
        }

        bool hasBody = body is { Length: > 0 };
        if (operation.Item.TryGetProperty("requestBody", out var requestBody))
        {
            if (!requestBody.GetProperty("content").TryGetProperty("application/json", out var media))
            {
                errors.Add($"{operation}: the spec's body is not JSON");
                return errors;
            }
            bool required = requestBody.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.True;
            if (!hasBody)
            {
                if (required) errors.Add($"{operation}: a JSON body is required");
                return errors;
            }
            if (contentType is null || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
                errors.Add($"{operation}: body sent as '{contentType}', not application/json");
            JsonElement instance;
            try
            {
                instance = JsonDocument.Parse(body).RootElement;
            }
            catch (JsonException e)
            {
                errors.Add($"{operation}: body is not JSON: {e.Message}");
                return errors;
            }
            foreach (var error in Validator.Validate(media.GetProperty("schema"), instance)) errors.Add($"{operation}: {error}");
        }
        else if (hasBody)
        {
            errors.Add($"{operation}: the operation takes no body, {body!.Length} bytes were sent");
        }
        return errors;
    }

    /// <summary>The JSON schema of a response of <paramref name="operation"/> for a status (exact, then <c>4XX</c>/<c>default</c>), or null.</summary>
    public JsonElement? ResponseSchema(Operation operation, int status)
    {
        var responses = operation.Item.GetProperty("responses");
        foreach (string key in new[] { status.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{status / 100}XX", "default" })
        {
            if (!responses.TryGetProperty(key, out var response)) continue;
            if (!response.TryGetProperty("content", out var content)) return null;
            foreach (var media in content.EnumerateObject())
                return media.Value.GetProperty("schema");
        }
        return null;
    }

    /// <summary>The media type of a response of <paramref name="operation"/> for a status (e.g. text/plain for /readyz).</summary>
    public string? ResponseMediaType(Operation operation, int status)
    {
        var responses = operation.Item.GetProperty("responses");
        if (!responses.TryGetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response)) return null;
        if (!response.TryGetProperty("content", out var content)) return null;
        foreach (var media in content.EnumerateObject()) return media.Name;
        return null;
    }

    private static IEnumerable<(string Name, string Value)> ParseQuery(string query)
    {
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            yield return eq < 0 ? (Uri.UnescapeDataString(pair), "") : (Uri.UnescapeDataString(pair[..eq]), Uri.UnescapeDataString(pair[(eq + 1)..]));
        }
    }

    /// <summary>A query string value as the JSON its schema expects (booleans and integers unquoted), or null when it cannot be.</summary>
    private JsonElement? QueryValue(JsonElement schema, string value)
    {
        if (schema.TryGetProperty("$ref", out var reference)) schema = Validator.Resolve(reference.GetString()!);
        string? type = schema.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "string";
        string json = type switch
        {
            "boolean" => value is "true" or "false" ? value : "",
            "integer" or "number" => double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _) ? value : "",
            _ => JsonSerializer.Serialize(value),
        };
        return json.Length == 0 ? null : JsonDocument.Parse(json).RootElement;
    }

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } configured) return configured;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "qdrant", "openapi.json");
            if (System.IO.File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"Qdrant's OpenAPI document was not found in a 'shared/qdrant/openapi.json' above {AppContext.BaseDirectory}; set {PathVariable}.");
    }
}

/// <summary>One operation of the document: its path template, method, definition and the path parameters of a match.</summary>
internal sealed record Operation(string Template, string Method, JsonElement Item, IReadOnlyDictionary<string, string> PathParameters)
{
    public string Id => Item.TryGetProperty("operationId", out var id) ? id.GetString()! : $"{Method} {Template}";

    public override string ToString() => $"{Method} {Template} ({Id})";
}
