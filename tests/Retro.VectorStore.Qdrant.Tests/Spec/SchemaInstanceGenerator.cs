using System.Text.Json;
using System.Text.Json.Nodes;

namespace Retro.VectorStore.Qdrant.Tests.Spec;

/// <summary>How <see cref="SchemaInstanceGenerator"/> fills a schema.</summary>
public enum InstanceShape
{
    /// <summary>Required members only, empty arrays, first anyOf/oneOf branch.</summary>
    Minimal,
    /// <summary>Every member (to a depth), one item per array, the schema's examples where valid, first branch.</summary>
    Full,
    /// <summary>Like <see cref="Full"/> but the last non-null anyOf/oneOf branch (numeric vs UUID ids, etc.).</summary>
    FullLastBranch,
}

/// <summary>
/// Builds a JSON instance from a schema of the OpenAPI document, as a server following the spec could send it. Used to
/// check that the client's types parse every shape the spec allows for the responses it reads.
/// </summary>
internal sealed class SchemaInstanceGenerator
{
    /// <summary>Past this depth optional members are left out (recursive schemas such as Filter terminate).</summary>
    private const int OptionalDepth = 8;

    private readonly SchemaValidator _validator;
    private readonly InstanceShape _shape;

    public SchemaInstanceGenerator(SchemaValidator validator, InstanceShape shape)
    {
        _validator = validator;
        _shape = shape;
    }

    public JsonNode? Generate(JsonElement schema) => Generate(schema, 0);

    private JsonNode? Generate(JsonElement schema, int depth)
    {
        if (depth > 200) throw new InvalidOperationException("Schema recursion without a finite instance.");
        if (schema.ValueKind == JsonValueKind.True) return JsonValue.Create("any");
        if (schema.TryGetProperty("$ref", out var reference)) return Generate(_validator.Resolve(reference.GetString()!), depth + 1);
        if (SchemaValidator.IsNullOnly(schema)) return null;

        if (_shape != InstanceShape.Minimal && schema.TryGetProperty("example", out var example) && _validator.Validate(schema, example).Count == 0)
            return JsonNode.Parse(example.GetRawText());
        if (schema.TryGetProperty("enum", out var values)) return JsonNode.Parse(values[0].GetRawText());

        foreach (string keyword in new[] { "anyOf", "oneOf" })
        {
            if (!schema.TryGetProperty(keyword, out var branches)) continue;
            var candidates = new List<JsonElement>();
            foreach (var branch in branches.EnumerateArray())
            {
                if (!SchemaValidator.IsNullOnly(branch)) candidates.Add(branch);
            }
            if (candidates.Count == 0) return null;
            // Past the optional depth the first (simplest) branch keeps recursive schemas finite.
            bool last = _shape == InstanceShape.FullLastBranch && depth <= OptionalDepth;
            return Generate(last ? candidates[^1] : candidates[0], depth + 1);
        }
        if (schema.TryGetProperty("allOf", out var allOf))
        {
            var merged = new JsonObject();
            foreach (var part in allOf.EnumerateArray())
            {
                if (Generate(part, depth + 1) is JsonObject obj)
                {
                    foreach (var (key, value) in obj) merged[key] = value?.DeepClone();
                }
            }
            return merged;
        }

        string type = schema.TryGetProperty("type", out var t)
            ? (t.ValueKind == JsonValueKind.String ? t.GetString()! : t[0].GetString()!)
            : schema.TryGetProperty("properties", out _) ? "object" : "any";
        return type switch
        {
            "object" => GenerateObject(schema, depth),
            "array" => GenerateArray(schema, depth),
            "string" => JsonValue.Create(GenerateString(schema)),
            "integer" => JsonValue.Create(GenerateInteger(schema)),
            "number" => JsonValue.Create(GenerateNumber(schema)),
            "boolean" => JsonValue.Create(true),
            "null" => null,
            _ => new JsonObject(),
        };
    }

    private JsonObject GenerateObject(JsonElement schema, int depth)
    {
        var result = new JsonObject();
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var r))
        {
            foreach (var name in r.EnumerateArray()) required.Add(name.GetString()!);
        }
        bool optional = _shape != InstanceShape.Minimal && depth <= OptionalDepth;
        if (schema.TryGetProperty("properties", out var properties))
        {
            foreach (var property in properties.EnumerateObject())
            {
                if (!required.Contains(property.Name) && !optional) continue;
                result[property.Name] = Generate(property.Value, depth + 1);
            }
        }
        if (optional && schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.Object)
            result["extra_key"] = Generate(additional, depth + 1);
        return result;
    }

    private JsonArray GenerateArray(JsonElement schema, int depth)
    {
        var result = new JsonArray();
        int count = schema.TryGetProperty("minItems", out var minItems) ? minItems.GetInt32() : 0;
        if (_shape != InstanceShape.Minimal && depth <= OptionalDepth) count = Math.Max(count, 1);
        if (schema.TryGetProperty("items", out var items))
        {
            for (int i = 0; i < count; i++) result.Add(Generate(items, depth + 1));
        }
        return result;
    }

    private static string GenerateString(JsonElement schema) => (schema.TryGetProperty("format", out var f) ? f.GetString() : null) switch
    {
        "uuid" => "550e8400-e29b-41d4-a716-446655440000",
        "date-time" => "2026-08-04T10:49:10Z",
        "partial-date-time" => "2026-08-04T10:49:10",
        "uri" => "http://localhost:6333/",
        _ => "text",
    };

    private static long GenerateInteger(JsonElement schema)
    {
        long value = schema.TryGetProperty("minimum", out var min) ? (long)Math.Ceiling(min.GetDouble()) : 1;
        if (value < 1 && !schema.TryGetProperty("maximum", out _)) value = Math.Max(value, 1);
        if (schema.TryGetProperty("maximum", out var max)) value = Math.Min(value, (long)Math.Floor(max.GetDouble()));
        return value;
    }

    private static double GenerateNumber(JsonElement schema)
    {
        double value = schema.TryGetProperty("minimum", out var min) ? min.GetDouble() : 0.5;
        if (schema.TryGetProperty("maximum", out var max)) value = Math.Min(value, max.GetDouble());
        return value;
    }
}
