using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Retro.VectorStore.Qdrant.Tests.Emulator;

/// <summary>One collection of the emulator: points in memory, exact search.</summary>
internal sealed class EmulatedCollection
{
    private readonly SortedDictionary<PointKey, EmulatedPoint> _points = new();
    private readonly Dictionary<string, string> _indexes = new(StringComparer.Ordinal);
    private readonly List<JsonObject> _snapshots = [];
    private readonly JsonObject _create;

    public EmulatedCollection(string name, JsonNode create)
    {
        Name = name;
        _create = create.AsObject().DeepClone().AsObject();
        Size = _create["vectors"]!["size"]!.GetValue<int>();
        Distance = _create["vectors"]!["distance"]!.GetValue<string>();
        if (_create["sparse_vectors"] is JsonObject sparse)
        {
            foreach (var (vectorName, config) in sparse) _sparse[vectorName] = config?["modifier"] is JsonValue m ? m.GetValue<string>() : "none";
        }
    }

    // Named sparse vectors of the collection and their modifiers ("idf" or "none").
    private readonly Dictionary<string, string> _sparse = new(StringComparer.Ordinal);

    public string Name { get; }
    public int Size { get; }
    public string Distance { get; }

    // ---------------------------------------------------------------- collection

    public JsonObject Info()
    {
        uint Get(string key, uint fallback) => _create[key] is JsonValue v ? v.GetValue<uint>() : fallback;
        uint Hnsw(string key, uint fallback) => _create["hnsw_config"]?[key] is JsonValue v ? v.GetValue<uint>() : fallback;
        var schema = new JsonObject();
        foreach (var (field, type) in _indexes)
        {
            int indexed = _points.Values.Count(p => EmulatedFilter.Values(p.Payload, field).Count > 0);
            schema[field] = new JsonObject { ["data_type"] = type, ["points"] = indexed };
        }
        var info = new JsonObject
        {
            ["status"] = "green",
            ["optimizer_status"] = "ok",
            ["indexed_vectors_count"] = 0,
            ["points_count"] = _points.Count,
            ["segments_count"] = 1,
            ["config"] = new JsonObject
            {
                ["params"] = new JsonObject
                {
                    ["vectors"] = new JsonObject { ["size"] = Size, ["distance"] = Distance },
                    ["shard_number"] = Get("shard_number", 1),
                    ["replication_factor"] = Get("replication_factor", 1),
                    ["write_consistency_factor"] = Get("write_consistency_factor", 1),
                    ["on_disk_payload"] = true,
                },
                ["hnsw_config"] = new JsonObject
                {
                    ["m"] = Hnsw("m", 16),
                    ["ef_construct"] = Hnsw("ef_construct", 100),
                    ["full_scan_threshold"] = Hnsw("full_scan_threshold", 10000),
                    ["max_indexing_threads"] = 0,
                    ["on_disk"] = false,
                },
                ["optimizer_config"] = new JsonObject
                {
                    ["deleted_threshold"] = 0.2,
                    ["vacuum_min_vector_number"] = 1000,
                    ["default_segment_number"] = 0,
                    ["indexing_threshold"] = 10000,
                    ["flush_interval_sec"] = 5,
                },
                ["wal_config"] = new JsonObject { ["wal_capacity_mb"] = 32, ["wal_segments_ahead"] = 0 },
                ["quantization_config"] = _create["quantization_config"]?.DeepClone(),
            },
            ["payload_schema"] = schema,
        };
        if (_create["sparse_vectors"] is JsonObject sparse) info["config"]!["params"]!["sparse_vectors"] = sparse.DeepClone();
        return info;
    }

    public bool CreateIndex(JsonNode body)
    {
        var schema = body["field_schema"];
        string type = schema is JsonObject o ? o["type"]!.GetValue<string>() : schema?.GetValue<string>()
            ?? throw new EmulatedError(HttpStatusCode.BadRequest, "Wrong input: field_schema is required to create an index");
        string field = body["field_name"]!.GetValue<string>();
        if (_indexes.TryGetValue(field, out var existing) && existing != type)
            _indexes[field] = type; // Qdrant rebuilds the index with the new type
        else
            _indexes[field] = type;
        return true;
    }

    public JsonObject CreateSnapshot(int number)
    {
        string name = $"{Name}-{number}-2026-11-22-00-00-{number % 60:00}.snapshot";
        var snapshot = new JsonObject
        {
            ["name"] = name,
            ["creation_time"] = "2026-11-22T00:00:00",
            ["size"] = 4096 + 64L * _points.Count,
            ["checksum"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name))),
        };
        _snapshots.Add(snapshot);
        return (JsonObject)snapshot.DeepClone();
    }

    public JsonArray ListSnapshots() => [.. _snapshots.Select(s => s.DeepClone())];

    // ---------------------------------------------------------------- writes

    public bool Upsert(JsonNode body, long version)
    {
        var incoming = new List<EmulatedPoint>();
        if (body["points"] is JsonArray points)
        {
            foreach (var point in points)
                incoming.Add(MakePoint(point!["id"]!, point["vector"], point["payload"] as JsonObject, version));
        }
        else if (body["batch"] is JsonObject batch)
        {
            var ids = batch["ids"]!.AsArray();
            var vectors = batch["vectors"] as JsonArray ?? throw new EmulatedError(HttpStatusCode.BadRequest, "The emulator implements dense batch vectors only.");
            var payloads = batch["payloads"] as JsonArray;
            if (vectors.Count != ids.Count || (payloads is not null && payloads.Count != ids.Count))
                throw new EmulatedError(HttpStatusCode.BadRequest, "Wrong input: ids, vectors and payloads differ in length");
            for (int i = 0; i < ids.Count; i++) incoming.Add(MakePoint(ids[i]!, vectors[i], payloads?[i] as JsonObject, version));
        }
        foreach (var point in incoming) _points[point.Key] = point; // all validated first: a bad batch changes nothing
        return true;
    }

    private EmulatedPoint MakePoint(JsonNode id, JsonNode? vector, JsonObject? payload, long version)
    {
        var sparse = new Dictionary<string, SparseValues>(StringComparer.Ordinal);
        if (vector is JsonObject named)
        {
            // Named vectors: "" is the unnamed dense vector, the others must be configured sparse vectors.
            vector = named[""];
            foreach (var (name, value) in named)
            {
                if (name.Length == 0) continue;
                if (!_sparse.ContainsKey(name)) throw new EmulatedError(HttpStatusCode.BadRequest, $"Wrong input: Not existing vector name error: {name}");
                sparse[name] = SparseValues.From(value);
            }
        }
        if (vector is not JsonArray array || array.Any(v => v is not JsonValue))
            throw new EmulatedError(HttpStatusCode.BadRequest, "The emulator implements one unnamed dense vector per point only.");
        if (array.Count != Size)
            throw new EmulatedError(HttpStatusCode.BadRequest, $"Wrong input: Vector dimension error: expected dim: {Size}, got {array.Count}");
        var values = array.Select(v => v!.GetValue<float>()).ToArray();
        if (Distance == "Cosine") Normalize(values); // Qdrant stores cosine vectors normalised
        return new EmulatedPoint(PointKey.From(id), values, (JsonObject?)payload?.DeepClone() ?? [], version, sparse);
    }

    public bool Delete(JsonNode body)
    {
        if (body["points"] is JsonArray ids)
        {
            foreach (var id in ids) _points.Remove(PointKey.From(id!));
        }
        else
        {
            var filter = body["filter"];
            foreach (var key in _points.Where(p => EmulatedFilter.Matches(filter, p.Value)).Select(p => p.Key).ToList()) _points.Remove(key);
        }
        return true;
    }

    // ---------------------------------------------------------------- reads

    public JsonArray Retrieve(JsonNode body)
    {
        var result = new JsonArray();
        var seen = new HashSet<PointKey>();
        foreach (var id in body["ids"]!.AsArray())
        {
            var key = PointKey.From(id!);
            if (seen.Add(key) && _points.TryGetValue(key, out var point)) result.Add(Record(point, body, payloadByDefault: true));
        }
        return result;
    }

    public JsonObject Count(JsonNode? body)
    {
        var filter = body?["filter"];
        return new JsonObject { ["count"] = _points.Values.Count(p => EmulatedFilter.Matches(filter, p)) };
    }

    public JsonObject Scroll(JsonNode? body)
    {
        int limit = body?["limit"] is JsonValue l ? l.GetValue<int>() : 10;
        PointKey? offset = body?["offset"] is { } o ? PointKey.From(o) : null;
        var filter = body?["filter"];
        var page = new JsonArray();
        JsonNode? next = null;
        foreach (var (key, point) in _points)
        {
            if (offset is { } start && key.CompareTo(start) < 0) continue;
            if (!EmulatedFilter.Matches(filter, point)) continue;
            if (page.Count == limit) { next = key.ToJson(); break; }
            page.Add(Record(point, body, payloadByDefault: true));
        }
        return new JsonObject { ["points"] = page, ["next_page_offset"] = next };
    }

    public JsonObject Query(JsonNode? body)
    {
        int offset = body?["offset"] is JsonValue off ? off.GetValue<int>() : 0;
        var points = new JsonArray();
        foreach (var (point, score) in Scored(body).Skip(offset))
        {
            var record = Record(point, body, payloadByDefault: false);
            record["version"] = point.Version;
            record["score"] = score;
            points.Add(record);
        }
        return new JsonObject { ["points"] = points };
    }

    /// <summary>The best <c>limit + offset</c> points of a query: fused prefetches, a sparse query (<c>using</c>) or a dense one.</summary>
    private List<(EmulatedPoint Point, float Score)> Scored(JsonNode? body)
    {
        int limit = (body?["limit"] is JsonValue l ? l.GetValue<int>() : 10) + (body?["offset"] is JsonValue o ? o.GetValue<int>() : 0);
        if (body?["prefetch"] is JsonArray or JsonObject) return Fused(body, limit);
        if (body?["using"] is JsonValue u) return Sparse(body, u.GetValue<string>(), limit);
        return Dense(body, limit);
    }

    /// <summary>Reciprocal rank fusion of the prefetches: Σ 1 / (k + rank), rank 1-based (k default 2), then the outer filter.</summary>
    private List<(EmulatedPoint Point, float Score)> Fused(JsonNode body, int limit)
    {
        var query = body["query"];
        int k;
        if (query?["rrf"] is JsonObject rrf) k = rrf["k"] is JsonValue kv ? kv.GetValue<int>() : 2;
        else if (query?["fusion"] is JsonValue f && f.GetValue<string>() == "rrf") k = 2;
        else throw new EmulatedError(HttpStatusCode.BadRequest, "The emulator implements prefetch with RRF fusion only.");
        var prefetches = body["prefetch"] is JsonArray array ? array.ToList() : [body["prefetch"]];
        var fused = new Dictionary<PointKey, (EmulatedPoint Point, float Score)>();
        foreach (var prefetch in prefetches)
        {
            var ranked = Scored(prefetch);
            for (int i = 0; i < ranked.Count; i++)
            {
                var (point, _) = ranked[i];
                fused[point.Key] = (point, fused.GetValueOrDefault(point.Key).Score + 1f / (k + i + 1));
            }
        }
        var filter = body["filter"];
        return [.. fused.Values.Where(p => EmulatedFilter.Matches(filter, p.Point))
            .OrderByDescending(p => p.Score).ThenBy(p => p.Point.Key).Take(limit)];
    }

    /// <summary>Sparse dot product (times the IDF, ln((n − df + 0.5) / (df + 0.5) + 1), with the idf modifier) over points sharing an index.</summary>
    private List<(EmulatedPoint Point, float Score)> Sparse(JsonNode body, string name, int limit)
    {
        if (!_sparse.TryGetValue(name, out var modifier)) throw new EmulatedError(HttpStatusCode.BadRequest, $"Wrong input: Not existing vector name error: {name}");
        var query = SparseValues.From(body["query"]);
        var withVector = _points.Values.Where(p => p.Sparse.ContainsKey(name)).ToList();
        var weights = new float[query.Indices.Length];
        for (int i = 0; i < weights.Length; i++)
        {
            uint index = query.Indices[i];
            int df = withVector.Count(p => p.Sparse[name].Indices.Contains(index));
            weights[i] = modifier == "idf" ? query.Values[i] * (float)Math.Log((withVector.Count - df + 0.5) / (df + 0.5) + 1.0) : query.Values[i];
        }
        var filter = body["filter"];
        var scored = new List<(EmulatedPoint, float)>();
        foreach (var point in withVector)
        {
            if (!EmulatedFilter.Matches(filter, point)) continue;
            var v = point.Sparse[name];
            float score = 0;
            bool shared = false;
            for (int i = 0; i < query.Indices.Length; i++)
            {
                int j = Array.IndexOf(v.Indices, query.Indices[i]);
                if (j < 0) continue;
                shared = true;
                score += weights[i] * v.Values[j];
            }
            if (shared) scored.Add((point, score));
        }
        return [.. scored.OrderByDescending(p => p.Item2).ThenBy(p => p.Item1.Key).Take(limit)];
    }

    private List<(EmulatedPoint Point, float Score)> Dense(JsonNode? body, int limit)
    {
        var query = body?["query"];
        if (query is JsonObject nearest && nearest["nearest"] is { } inner) query = inner;
        if (query is not JsonArray array || array.Any(v => v is not JsonValue))
            throw new EmulatedError(HttpStatusCode.BadRequest, "The emulator implements nearest-neighbour queries with a dense vector only.");
        if (array.Count != Size)
            throw new EmulatedError(HttpStatusCode.BadRequest, $"Wrong input: Vector dimension error: expected dim: {Size}, got {array.Count}");
        var q = array.Select(v => v!.GetValue<float>()).ToArray();
        if (Distance == "Cosine") Normalize(q);
        float? threshold = body!["score_threshold"] is JsonValue t ? t.GetValue<float>() : null;
        bool higherIsBetter = Distance is "Cosine" or "Dot";
        var filter = body["filter"];

        var scored = new List<(EmulatedPoint Point, float Score)>();
        foreach (var point in _points.Values)
        {
            if (!EmulatedFilter.Matches(filter, point)) continue;
            float score = Score(q, point.Vector);
            if (threshold is { } th && (higherIsBetter ? score < th : score > th)) continue;
            scored.Add((point, score));
        }
        scored.Sort((a, b) =>
        {
            int c = higherIsBetter ? b.Score.CompareTo(a.Score) : a.Score.CompareTo(b.Score);
            return c != 0 ? c : a.Point.Key.CompareTo(b.Point.Key);
        });
        return scored.Count > limit ? scored.GetRange(0, limit) : scored;
    }

    private float Score(float[] q, float[] v)
    {
        double sum = 0;
        switch (Distance)
        {
            case "Cosine" or "Dot":
                for (int i = 0; i < q.Length; i++) sum += (double)q[i] * v[i];
                return (float)sum;
            case "Euclid":
                for (int i = 0; i < q.Length; i++) { double d = q[i] - v[i]; sum += d * d; }
                return (float)Math.Sqrt(sum);
            default:
                for (int i = 0; i < q.Length; i++) sum += Math.Abs(q[i] - v[i]);
                return (float)sum;
        }
    }

    private static void Normalize(float[] values)
    {
        double norm = Math.Sqrt(values.Sum(v => (double)v * v));
        if (norm == 0) return;
        for (int i = 0; i < values.Length; i++) values[i] = (float)(values[i] / norm);
    }

    /// <summary>A <c>Record</c> honouring <c>with_payload</c> (bool or field list) and <c>with_vector</c> (bool).</summary>
    private static JsonObject Record(EmulatedPoint point, JsonNode? request, bool payloadByDefault)
    {
        var record = new JsonObject { ["id"] = point.Key.ToJson() };
        var withPayload = request?["with_payload"];
        if (withPayload is JsonValue b ? b.GetValue<bool>() : withPayload is JsonArray || (withPayload is null && payloadByDefault))
        {
            if (withPayload is JsonArray fields)
            {
                var selected = new JsonObject();
                foreach (var field in fields)
                {
                    string name = field!.GetValue<string>();
                    if (point.Payload[name] is { } value) selected[name] = value.DeepClone();
                }
                record["payload"] = selected;
            }
            else
            {
                record["payload"] = point.Payload.DeepClone();
            }
        }
        if (request?["with_vector"] is JsonValue v && v.GetValue<bool>())
            record["vector"] = new JsonArray([.. point.Vector.Select(x => (JsonNode)JsonValue.Create(x))]);
        return record;
    }
}

/// <summary>A stored point.</summary>
internal sealed record EmulatedPoint(PointKey Key, float[] Vector, JsonObject Payload, long Version, IReadOnlyDictionary<string, SparseValues> Sparse);

/// <summary>A stored or query sparse vector.</summary>
internal sealed record SparseValues(uint[] Indices, float[] Values)
{
    public static SparseValues From(JsonNode? node)
    {
        if (node?["indices"] is not JsonArray indices || node["values"] is not JsonArray values || indices.Count != values.Count)
            throw new EmulatedError(HttpStatusCode.BadRequest, "Wrong input: a sparse vector needs indices and values of the same length");
        var result = new SparseValues([.. indices.Select(i => i!.GetValue<uint>())], [.. values.Select(v => v!.GetValue<float>())]);
        if (result.Indices.Distinct().Count() != result.Indices.Length) throw new EmulatedError(HttpStatusCode.BadRequest, "Wrong input: sparse indices must be unique");
        return result;
    }
}

/// <summary>A point id in Qdrant's order: numbers first (ascending), then UUIDs (by their bytes).</summary>
internal readonly record struct PointKey(ulong Number, Guid? Uuid) : IComparable<PointKey>
{
    public static PointKey From(JsonNode id)
    {
        var value = id.AsValue();
        if (value.TryGetValue<string>(out var text))
        {
            if (!Guid.TryParse(text, out var guid)) throw new EmulatedError(HttpStatusCode.BadRequest, $"Wrong input: Unable to parse UUID: {text}");
            return new PointKey(0, guid);
        }
        return new PointKey(value.GetValue<ulong>(), null);
    }

    public JsonNode ToJson() => Uuid is { } g ? JsonValue.Create(g.ToString("D")) : JsonValue.Create(Number);

    public int CompareTo(PointKey other)
    {
        if (Uuid is null && other.Uuid is null) return Number.CompareTo(other.Number);
        if (Uuid is null) return -1;
        if (other.Uuid is null) return 1;
        return string.CompareOrdinal(Uuid.Value.ToString("N"), other.Uuid.Value.ToString("N"));
    }
}
