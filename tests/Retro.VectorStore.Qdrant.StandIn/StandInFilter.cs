using System.Text;
using Google.Protobuf.Collections;
using Qdrant.Client.Grpc;

namespace Retro.VectorStore.Qdrant.StandIn;

/// <summary>
/// Qdrant's filter semantics: <c>must</c> (all), <c>must_not</c> (none), <c>should</c> (at least one when present),
/// <c>min_should</c>, nested filters, <c>has_id</c>, <c>is_empty</c>, <c>is_null</c>, and field conditions with
/// <c>match</c> (keyword, integer, boolean, keywords = any, except) and <c>range</c>. A condition on an array field
/// holds when it holds for some element. Conditions it does not implement answer <c>UNIMPLEMENTED</c>.
/// </summary>
internal static class StandInFilter
{
    public static bool Matches(Filter? filter, StoredPoint point)
    {
        if (filter is null) return true;
        foreach (var c in filter.Must) if (!Holds(c, point)) return false;
        foreach (var c in filter.MustNot) if (Holds(c, point)) return false;
        if (filter.Should.Count > 0 && !filter.Should.Any(c => Holds(c, point))) return false;
        if (filter.MinShould is { } min && (ulong)min.Conditions.Count(c => Holds(c, point)) < min.MinCount) return false;
        return true;
    }

    private static bool Holds(Condition condition, StoredPoint point) => condition.ConditionOneOfCase switch
    {
        Condition.ConditionOneOfOneofCase.Filter => Matches(condition.Filter, point),
        Condition.ConditionOneOfOneofCase.HasId => condition.HasId.HasId.Any(id => PointKey.From(id).Equals(point.Key)),
        Condition.ConditionOneOfOneofCase.IsEmpty => PayloadPath.Values(point.Payload, condition.IsEmpty.Key).Count == 0,
        Condition.ConditionOneOfOneofCase.IsNull => PayloadPath.Values(point.Payload, condition.IsNull.Key, keepNull: true).Any(v => v.KindCase == Value.KindOneofCase.NullValue),
        Condition.ConditionOneOfOneofCase.Field => Field(condition.Field, point),
        _ => throw Errors.Unimplemented($"condition {condition.ConditionOneOfCase}"),
    };

    private static bool Field(FieldCondition field, StoredPoint point)
    {
        var values = PayloadPath.Values(point.Payload, field.Key);
        if (field.Match is { } match)
        {
            return match.MatchValueCase switch
            {
                Match.MatchValueOneofCase.Keyword => values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && v.StringValue == match.Keyword),
                Match.MatchValueOneofCase.Integer => values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && v.IntegerValue == match.Integer),
                Match.MatchValueOneofCase.Boolean => values.Any(v => v.KindCase == Value.KindOneofCase.BoolValue && v.BoolValue == match.Boolean),
                Match.MatchValueOneofCase.Keywords => values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && match.Keywords.Strings.Contains(v.StringValue)),
                Match.MatchValueOneofCase.Integers => values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && match.Integers.Integers.Contains(v.IntegerValue)),
                Match.MatchValueOneofCase.ExceptKeywords => !values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && match.ExceptKeywords.Strings.Contains(v.StringValue)),
                Match.MatchValueOneofCase.ExceptIntegers => !values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && match.ExceptIntegers.Integers.Contains(v.IntegerValue)),
                _ => throw Errors.Unimplemented($"match {match.MatchValueCase}"),
            };
        }
        if (field.Range is { } range)
        {
            return values.Any(v => Number(v) is { } n && (!range.HasGt || n > range.Gt) && (!range.HasGte || n >= range.Gte)
                && (!range.HasLt || n < range.Lt) && (!range.HasLte || n <= range.Lte));
        }
        if (field.HasIsEmpty) return (values.Count == 0) == field.IsEmpty;
        throw Errors.Unimplemented($"field condition on '{field.Key}' without match or range");
    }

    private static double? Number(Value v) => v.KindCase switch
    {
        Value.KindOneofCase.IntegerValue => v.IntegerValue,
        Value.KindOneofCase.DoubleValue => v.DoubleValue,
        _ => null,
    };
}

/// <summary>Qdrant's payload paths: <c>a.b</c>, <c>a."b.c"</c>, <c>a[]</c>, <c>a[0]</c>.</summary>
internal static class PayloadPath
{
    private readonly record struct Step(string? Key, int? Index);

    /// <summary>The values at <paramref name="path"/>; arrays at the end are flattened (Qdrant matches any element); nulls dropped unless kept.</summary>
    public static List<Value> Values(MapField<string, Value> payload, string path, bool keepNull = false)
    {
        var steps = Parse(path);
        var current = new List<Value>();
        if (payload.TryGetValue(steps[0].Key!, out var first)) current.Add(first);
        foreach (var step in steps.Skip(1))
        {
            var next = new List<Value>();
            foreach (var node in current)
            {
                switch (step)
                {
                    case { Key: { } key } when node.KindCase == Value.KindOneofCase.StructValue && node.StructValue.Fields.TryGetValue(key, out var child):
                        next.Add(child);
                        break;
                    case { Key: null, Index: null } when node.KindCase == Value.KindOneofCase.ListValue:
                        next.AddRange(node.ListValue.Values);
                        break;
                    case { Index: { } index } when node.KindCase == Value.KindOneofCase.ListValue && index < node.ListValue.Values.Count:
                        next.Add(node.ListValue.Values[index]);
                        break;
                }
            }
            current = next;
        }
        var result = new List<Value>();
        foreach (var node in current)
        {
            if (node.KindCase == Value.KindOneofCase.ListValue) result.AddRange(node.ListValue.Values.Where(e => keepNull || e.KindCase != Value.KindOneofCase.NullValue));
            else if (keepNull || node.KindCase != Value.KindOneofCase.NullValue) result.Add(node);
        }
        return result;
    }

    public static List<(string? Key, int? Index)> Parse(string path) => [.. ParseSteps(path).Select(s => (s.Key, s.Index))];

    private static List<Step> ParseSteps(string path)
    {
        var steps = new List<Step>();
        int i = 0;
        bool first = true;
        while (i < path.Length)
        {
            if (path[i] == '[')
            {
                if (first) throw BadPath(path);
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
        if (steps.Count == 0) throw BadPath(path);
        return steps;
    }

    private static Grpc.Core.RpcException BadPath(string path) => Errors.BadInput($"Invalid payload key path: {path}");
}
