using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Retro.VectorStore.Qdrant.Tests.Spec;

/// <summary>
/// A JSON-schema validator for the OpenAPI 3.0 subset Qdrant's document uses: <c>$ref</c> to components, <c>type</c>
/// (a name or an array of names), <c>nullable</c>, <c>required</c>, <c>properties</c>, <c>additionalProperties</c>,
/// <c>items</c>, <c>enum</c>, <c>anyOf</c>/<c>oneOf</c>/<c>allOf</c>, <c>minimum</c>/<c>maximum</c>,
/// <c>minItems</c>/<c>maxItems</c>/<c>uniqueItems</c>, <c>minLength</c>/<c>maxLength</c>/<c>pattern</c>, and the
/// integer/uuid/date-time formats. Two readings chosen on purpose:
/// <list type="bullet">
/// <item>A schema that says only <c>nullable: true</c> (Qdrant writes <c>anyOf: [{$ref}, {nullable: true}]</c> for
/// optional members) accepts null only; read literally it would accept anything and make every such anyOf vacuous.</item>
/// <item>In <see cref="Strict"/> mode an object schema with <c>properties</c> and no <c>additionalProperties</c> is
/// closed, so a misspelt member (which Qdrant would silently ignore) is an error.</item>
/// </list>
/// </summary>
internal sealed class SchemaValidator
{
    private const int MaxDepth = 64;

    /// <summary>Item errors reported per array before the rest are left out (keeps failing anyOf branches cheap).</summary>
    private const int MaxItemErrors = 3;
    private readonly JsonElement _document;
    private readonly Dictionary<string, Regex> _patterns = new(StringComparer.Ordinal);

    public SchemaValidator(JsonElement document, bool strict = true)
    {
        _document = document;
        Strict = strict;
    }

    /// <summary>Undeclared object members are errors where the schema lists <c>properties</c>.</summary>
    public bool Strict { get; }

    /// <summary>Validates <paramref name="instance"/>; returns the errors (empty when valid), each with its JSON path.</summary>
    public List<string> Validate(JsonElement schema, JsonElement instance, string path = "$")
    {
        var errors = new List<string>();
        Validate(schema, instance, path, errors, 0);
        return errors;
    }

    /// <summary>Resolves a local <c>$ref</c> such as <c>#/components/schemas/Filter</c>.</summary>
    public JsonElement Resolve(string reference)
    {
        if (!reference.StartsWith("#/", StringComparison.Ordinal)) throw new NotSupportedException($"Only local references are supported: {reference}");
        var node = _document;
        foreach (var part in reference[2..].Split('/'))
        {
            string name = part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (!node.TryGetProperty(name, out node)) throw new KeyNotFoundException($"Unresolvable reference {reference}");
        }
        return node;
    }

    /// <summary>A schema that only says <c>nullable: true</c> (no type, no structure): accepts null only.</summary>
    public static bool IsNullOnly(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object) return false;
        if (!schema.TryGetProperty("nullable", out var n) || n.ValueKind != JsonValueKind.True) return false;
        foreach (var keyword in StructuralKeywords)
        {
            if (schema.TryGetProperty(keyword, out _)) return false;
        }
        return true;
    }

    private static readonly string[] StructuralKeywords = ["$ref", "type", "properties", "items", "anyOf", "oneOf", "allOf", "enum", "additionalProperties", "required"];

    private void Validate(JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        if (depth > MaxDepth) { errors.Add($"{path}: nesting deeper than {MaxDepth}"); return; }
        if (schema.ValueKind == JsonValueKind.True) return;
        if (schema.ValueKind == JsonValueKind.False) { errors.Add($"{path}: no value is allowed here"); return; }
        if (schema.ValueKind != JsonValueKind.Object) throw new InvalidOperationException($"Schema at {path} is not an object.");

        if (schema.TryGetProperty("$ref", out var reference))
        {
            Validate(Resolve(reference.GetString()!), value, path, errors, depth + 1);
            return;
        }

        bool nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;
        if (IsNullOnly(schema))
        {
            if (value.ValueKind != JsonValueKind.Null) errors.Add($"{path}: expected null, got {value.ValueKind}");
            return;
        }
        if (value.ValueKind == JsonValueKind.Null && (nullable || TypeAllows(schema, "null"))) return;

        if (schema.TryGetProperty("allOf", out var allOf))
        {
            foreach (var sub in allOf.EnumerateArray()) Validate(sub, value, path, errors, depth + 1);
        }
        if (schema.TryGetProperty("anyOf", out var anyOf) && !AnyBranchMatches(anyOf, value, path, errors, depth, exactlyOne: false)) return;
        if (schema.TryGetProperty("oneOf", out var oneOf) && !AnyBranchMatches(oneOf, value, path, errors, depth, exactlyOne: true)) return;

        if (schema.TryGetProperty("type", out var type) && !TypeMatches(type, value))
        {
            errors.Add($"{path}: expected {type.GetRawText()}, got {Describe(value)}");
            return;
        }
        if (value.ValueKind == JsonValueKind.Null && !schema.TryGetProperty("type", out _)) return;

        if (schema.TryGetProperty("enum", out var allowed))
        {
            bool found = false;
            foreach (var candidate in allowed.EnumerateArray())
            {
                if (JsonElement.DeepEquals(candidate, value)) { found = true; break; }
            }
            if (!found) errors.Add($"{path}: {value.GetRawText()} is not one of {allowed.GetRawText()}");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Number: CheckNumber(schema, value, path, errors); break;
            case JsonValueKind.String: CheckString(schema, value, path, errors); break;
            case JsonValueKind.Array: CheckArray(schema, value, path, errors, depth); break;
            case JsonValueKind.Object: CheckObject(schema, value, path, errors, depth); break;
        }
    }

    private bool AnyBranchMatches(JsonElement branches, JsonElement value, string path, List<string> errors, int depth, bool exactlyOne)
    {
        int matches = 0;
        var branchErrors = new List<string>();
        int index = 0;
        foreach (var branch in branches.EnumerateArray())
        {
            var local = new List<string>();
            Validate(branch, value, path, local, depth + 1);
            if (local.Count == 0)
            {
                matches++;
                if (!exactlyOne) return true; // anyOf: the first match settles it
            }
            else branchErrors.Add($"[{index}] {local[0]}{(local.Count > 1 ? $" (+{local.Count - 1})" : "")}");
            index++;
        }
        if (matches == 0)
        {
            errors.Add($"{path}: matches no {(exactlyOne ? "oneOf" : "anyOf")} branch: {string.Join(" | ", branchErrors)}");
            return false;
        }
        if (exactlyOne && matches > 1)
        {
            errors.Add($"{path}: matches {matches} oneOf branches, exactly one expected");
            return false;
        }
        return true;
    }

    private static bool TypeAllows(JsonElement schema, string name)
    {
        if (!schema.TryGetProperty("type", out var type)) return false;
        if (type.ValueKind == JsonValueKind.String) return type.GetString() == name;
        foreach (var t in type.EnumerateArray())
        {
            if (t.GetString() == name) return true;
        }
        return false;
    }

    private static bool TypeMatches(JsonElement type, JsonElement value)
    {
        if (type.ValueKind == JsonValueKind.String) return TypeMatches(type.GetString()!, value);
        foreach (var t in type.EnumerateArray())
        {
            if (TypeMatches(t.GetString()!, value)) return true;
        }
        return false;
    }

    private static bool TypeMatches(string type, JsonElement value) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && IsInteger(value),
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => throw new NotSupportedException($"Unknown schema type '{type}'."),
    };

    private static bool IsInteger(JsonElement value)
        => value.TryGetInt64(out _) || value.TryGetUInt64(out _) || (value.TryGetDecimal(out decimal d) && decimal.Truncate(d) == d);

    private static void CheckNumber(JsonElement schema, JsonElement value, string path, List<string> errors)
    {
        double number = value.GetDouble();
        if (schema.TryGetProperty("minimum", out var min) && number < min.GetDouble()) errors.Add($"{path}: {value.GetRawText()} is below the minimum {min.GetRawText()}");
        if (schema.TryGetProperty("maximum", out var max) && number > max.GetDouble()) errors.Add($"{path}: {value.GetRawText()} is above the maximum {max.GetRawText()}");
        if (schema.TryGetProperty("exclusiveMinimum", out var xmin) && xmin.ValueKind == JsonValueKind.Number && number <= xmin.GetDouble()) errors.Add($"{path}: {value.GetRawText()} is not above {xmin.GetRawText()}");
        if (!schema.TryGetProperty("format", out var format)) return;
        bool ok = format.GetString() switch
        {
            "uint" or "uint64" => value.TryGetUInt64(out _),
            "uint32" => value.TryGetUInt32(out _),
            "uint16" => value.TryGetUInt16(out _),
            "uint8" => value.TryGetByte(out _),
            "int64" => value.TryGetInt64(out _),
            "int32" => value.TryGetInt32(out _),
            "float" => float.IsFinite((float)number),
            "double" => double.IsFinite(number),
            _ => true,
        };
        if (!ok) errors.Add($"{path}: {value.GetRawText()} is not a valid {format.GetString()}");
    }

    private void CheckString(JsonElement schema, JsonElement value, string path, List<string> errors)
    {
        string text = value.GetString()!;
        if (schema.TryGetProperty("minLength", out var minLength) && text.Length < minLength.GetInt32()) errors.Add($"{path}: shorter than {minLength.GetInt32()}");
        if (schema.TryGetProperty("maxLength", out var maxLength) && text.Length > maxLength.GetInt32()) errors.Add($"{path}: longer than {maxLength.GetInt32()}");
        if (schema.TryGetProperty("pattern", out var pattern))
        {
            string p = pattern.GetString()!;
            if (!_patterns.TryGetValue(p, out var regex)) _patterns[p] = regex = new Regex(p, RegexOptions.CultureInvariant);
            if (!regex.IsMatch(text)) errors.Add($"{path}: '{text}' does not match /{p}/");
        }
        if (!schema.TryGetProperty("format", out var format)) return;
        bool ok = format.GetString() switch
        {
            "uuid" => Guid.TryParseExact(text, "D", out _),
            "date-time" => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _),
            "uri" => Uri.TryCreate(text, UriKind.Absolute, out _),
            _ => true,
        };
        if (!ok) errors.Add($"{path}: '{text}' is not a valid {format.GetString()}");
    }

    private void CheckArray(JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        int length = value.GetArrayLength();
        if (schema.TryGetProperty("minItems", out var minItems) && length < minItems.GetInt32()) errors.Add($"{path}: fewer than {minItems.GetInt32()} items");
        if (schema.TryGetProperty("maxItems", out var maxItems) && length > maxItems.GetInt32()) errors.Add($"{path}: more than {maxItems.GetInt32()} items");
        if (schema.TryGetProperty("items", out var items))
        {
            int i = 0;
            int before = errors.Count;
            foreach (var item in value.EnumerateArray())
            {
                Validate(items, item, $"{path}[{i++}]", errors, depth + 1);
                if (errors.Count - before >= MaxItemErrors) { errors.Add($"{path}: more item errors left out"); break; }
            }
        }
        if (schema.TryGetProperty("uniqueItems", out var unique) && unique.ValueKind == JsonValueKind.True)
        {
            var seen = new List<JsonElement>();
            foreach (var item in value.EnumerateArray())
            {
                foreach (var other in seen)
                {
                    if (JsonElement.DeepEquals(item, other)) { errors.Add($"{path}: duplicate item {item.GetRawText()}"); return; }
                }
                seen.Add(item);
            }
        }
    }

    private void CheckObject(JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        bool hasProperties = schema.TryGetProperty("properties", out var properties);
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray())
            {
                if (!value.TryGetProperty(name.GetString()!, out _)) errors.Add($"{path}: missing required member '{name.GetString()}'");
            }
        }
        bool hasAdditional = schema.TryGetProperty("additionalProperties", out var additional);
        foreach (var member in value.EnumerateObject())
        {
            string memberPath = $"{path}.{member.Name}";
            if (hasProperties && properties.TryGetProperty(member.Name, out var propertySchema))
            {
                Validate(propertySchema, member.Value, memberPath, errors, depth + 1);
            }
            else if (hasAdditional)
            {
                if (additional.ValueKind == JsonValueKind.False) errors.Add($"{path}: member '{member.Name}' is not allowed");
                else if (additional.ValueKind == JsonValueKind.Object) Validate(additional, member.Value, memberPath, errors, depth + 1);
            }
            else if (hasProperties && Strict)
            {
                errors.Add($"{path}: member '{member.Name}' is not declared (strict)");
            }
        }
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number or JsonValueKind.String or JsonValueKind.True or JsonValueKind.False => $"{value.ValueKind} {Truncate(value.GetRawText())}",
        _ => value.ValueKind.ToString(),
    };

    private static string Truncate(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
