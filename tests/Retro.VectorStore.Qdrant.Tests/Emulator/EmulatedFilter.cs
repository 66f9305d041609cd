using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Retro.VectorStore.Qdrant.Tests.Emulator;

/// <summary>
/// Qdrant's filter semantics, for the emulator: <c>must</c> (all), <c>must_not</c> (none), <c>should</c> (at least
/// one), nested filters, <c>has_id</c>, and field conditions with <c>match</c> (<c>value</c>, <c>any</c>,
/// <c>except</c>), <c>range</c>, <c>is_empty</c>, <c>is_null</c>. A condition on an array field holds when it holds for
/// some element. Payload paths follow Qdrant's syntax: raw keys, <c>"quoted"</c> keys, <c>[]</c> and <c>[n]</c>.
/// </summary>
internal static class EmulatedFilter
{
    public static bool Matches(JsonNode? filter, EmulatedPoint point)
    {
        if (filter is null) return true;
        if (filter is not JsonObject f) throw new EmulatedError(HttpStatusCode.BadRequest, "Format error: a filter is an object");
        if (f["must"] is { } must && !Conditions(must).All(c => Holds(c, point))) return false;
        if (f["must_not"] is { } mustNot && Conditions(mustNot).Any(c => Holds(c, point))) return false;
        if (f["should"] is { } should)
        {
            var list = Conditions(should).ToList();
            if (list.Count > 0 && !list.Any(c => Holds(c, point))) return false;
        }
        if (f["min_should"] is JsonObject minShould)
        {
            int count = Conditions(minShould["conditions"]!).Count(c => Holds(c, point));
            if (count < minShould["min_count"]!.GetValue<int>()) return false;
        }
        return true;
    }

    private static IEnumerable<JsonNode> Conditions(JsonNode node) => node is JsonArray array ? array.Select(c => c!) : [node];

    private static bool Holds(JsonNode condition, EmulatedPoint point)
    {
        var c = condition.AsObject();
        if (c.ContainsKey("has_id"))
            return c["has_id"]!.AsArray().Any(id => PointKey.From(id!).Equals(point.Key));
        if (c.ContainsKey("must") || c.ContainsKey("must_not") || c.ContainsKey("should") || c.ContainsKey("min_should"))
            return Matches(c, point);
        if (c["is_empty"] is JsonObject isEmpty) return Values(point.Payload, isEmpty["key"]!.GetValue<string>()).Count == 0;
        if (c["is_null"] is JsonObject isNull) return Values(point.Payload, isNull["key"]!.GetValue<string>(), keepNull: true).Any(v => v is null);
        if (c["key"] is not JsonValue keyNode) throw new EmulatedError(HttpStatusCode.BadRequest, $"The emulator does not implement condition {c.ToJsonString()}");
        var values = Values(point.Payload, keyNode.GetValue<string>());
        if (c["match"] is JsonObject match)
        {
            if (match["value"] is JsonValue value) return values.Any(v => Same(v, value));
            if (match["any"] is JsonArray any) return values.Any(v => any.Any(a => Same(v, a)));
            if (match["except"] is JsonArray except) return !values.Any(v => except.Any(e => Same(v, e)));
            throw new EmulatedError(HttpStatusCode.BadRequest, $"The emulator does not implement match {match.ToJsonString()}");
        }
        if (c["range"] is JsonObject range)
        {
            return values.Any(v => v is JsonValue n && n.GetValueKind() == JsonValueKind.Number && InRange(n.GetValue<double>(), range));
        }
        if (c["is_empty"] is JsonValue isEmptyFlag && isEmptyFlag.GetValue<bool>()) return values.Count == 0;
        throw new EmulatedError(HttpStatusCode.BadRequest, $"The emulator does not implement condition {c.ToJsonString()}");
    }

    private static bool InRange(double v, JsonObject range)
    {
        if (range["gt"] is JsonValue gt && !(v > gt.GetValue<double>())) return false;
        if (range["gte"] is JsonValue gte && !(v >= gte.GetValue<double>())) return false;
        if (range["lt"] is JsonValue lt && !(v < lt.GetValue<double>())) return false;
        if (range["lte"] is JsonValue lte && !(v <= lte.GetValue<double>())) return false;
        return true;
    }

    private static bool Same(JsonNode? stored, JsonNode? wanted) => stored is not null && wanted is not null && JsonNode.DeepEquals(stored, wanted);

    /// <summary>The values at a payload path; arrays at the end are flattened (Qdrant matches any element).</summary>
    public static List<JsonNode?> Values(JsonObject payload, string path, bool keepNull = false)
    {
        var current = new List<JsonNode?> { payload };
        foreach (var step in Parse(path))
        {
            var next = new List<JsonNode?>();
            foreach (var node in current)
            {
                switch (step)
                {
                    case { Key: { } key } when node is JsonObject obj && obj.TryGetPropertyValue(key, out var child):
                        next.Add(child);
                        break;
                    case { Key: null, Index: null } when node is JsonArray all:
                        next.AddRange(all);
                        break;
                    case { Index: { } index } when node is JsonArray array && index < array.Count:
                        next.Add(array[index]);
                        break;
                }
            }
            current = next;
        }
        var result = new List<JsonNode?>();
        foreach (var node in current)
        {
            if (node is JsonArray array) result.AddRange(array.Where(e => e is not null || keepNull));
            else if (node is not null || keepNull) result.Add(node);
        }
        return result;
    }

    private readonly record struct Step(string? Key, int? Index);

    /// <summary>Qdrant's JSON path: <c>a.b</c>, <c>a."b.c"</c>, <c>a[]</c>, <c>a[0]</c>.</summary>
    private static List<Step> Parse(string path)
    {
        var steps = new List<Step>();
        int i = 0;
        bool first = true;
        while (i < path.Length)
        {
            if (path[i] == '[')
            {
                int close = path.IndexOf(']', i);
                if (close < 0) throw BadPath(path);
                string inside = path[(i + 1)..close];
                steps.Add(inside.Length == 0 ? new Step(null, null) : new Step(null, int.Parse(inside, System.Globalization.CultureInfo.InvariantCulture)));
                i = close + 1;
                continue;
            }
            if (!first)
            {
                if (path[i] != '.') throw BadPath(path);
                i++;
            }
            first = false;
            if (i < path.Length && path[i] == '"')
            {
                int close = path.IndexOf('"', i + 1);
                if (close < 0) throw BadPath(path);
                steps.Add(new Step(path[(i + 1)..close], null));
                i = close + 1;
            }
            else
            {
                var key = new StringBuilder();
                while (i < path.Length && (char.IsLetterOrDigit(path[i]) || path[i] is '_' or '-')) key.Append(path[i++]);
                if (key.Length == 0) throw BadPath(path);
                steps.Add(new Step(key.ToString(), null));
            }
        }
        return steps;
    }

    private static EmulatedError BadPath(string path) => new(HttpStatusCode.BadRequest, $"Wrong input: Invalid payload key path: {path}");
}
