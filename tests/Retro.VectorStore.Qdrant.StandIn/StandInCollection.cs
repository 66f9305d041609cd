using Google.Protobuf.Collections;
using Qdrant.Client.Grpc;

namespace Retro.VectorStore.Qdrant.StandIn;

/// <summary>One collection of the stand-in: points in memory in Qdrant's id order, exact search.</summary>
internal sealed class StandInCollection
{
    private readonly SortedDictionary<PointKey, StoredPoint> _points = new();
    private readonly Dictionary<string, PayloadSchemaType> _indexes = new(StringComparer.Ordinal);
    private readonly CreateCollection _create;
    private readonly Dictionary<string, Modifier> _sparse = new(StringComparer.Ordinal);
    private ulong _version;

    public StandInCollection(CreateCollection create)
    {
        _create = create.Clone();
        if (create.VectorsConfig?.ConfigCase != VectorsConfig.ConfigOneofCase.Params)
            throw Errors.Unimplemented("collections without one unnamed dense vector");
        Size = (int)create.VectorsConfig.Params.Size;
        if (Size < 1) throw Errors.BadInput("Vector size must be at least 1");
        Distance = create.VectorsConfig.Params.Distance;
        if (Distance is Distance.UnknownDistance) throw Errors.BadInput("Unknown distance");
        if (create.SparseVectorsConfig is { } sparse)
        {
            foreach (var (name, config) in sparse.Map) _sparse[name] = config.HasModifier ? config.Modifier : Modifier.None;
        }
    }

    public string Name => _create.CollectionName;
    public int Size { get; }
    public Distance Distance { get; }

    // ---------------------------------------------------------------- collection

    public CollectionInfo Info()
    {
        var info = new CollectionInfo
        {
            Status = CollectionStatus.Green,
            OptimizerStatus = new OptimizerStatus { Ok = true },
            SegmentsCount = 1,
            PointsCount = (ulong)_points.Count,
            IndexedVectorsCount = 0,
            Config = new CollectionConfig
            {
                Params = new CollectionParams
                {
                    VectorsConfig = _create.VectorsConfig.Clone(),
                    ShardNumber = _create.HasShardNumber ? _create.ShardNumber : 1,
                    ReplicationFactor = _create.HasReplicationFactor ? _create.ReplicationFactor : 1,
                    WriteConsistencyFactor = _create.HasWriteConsistencyFactor ? _create.WriteConsistencyFactor : 1,
                },
                HnswConfig = new HnswConfigDiff
                {
                    M = _create.HnswConfig?.HasM == true ? _create.HnswConfig.M : 16,
                    EfConstruct = _create.HnswConfig?.HasEfConstruct == true ? _create.HnswConfig.EfConstruct : 100,
                    FullScanThreshold = 10_000,
                },
                OptimizerConfig = new OptimizersConfigDiff { DeletedThreshold = 0.2, VacuumMinVectorNumber = 1000, DefaultSegmentNumber = 0 },
                WalConfig = new WalConfigDiff { WalCapacityMb = 32, WalSegmentsAhead = 0 },
            },
        };
        if (_create.SparseVectorsConfig is { } sparse) info.Config.Params.SparseVectorsConfig = sparse.Clone();
        if (_create.QuantizationConfig is { } quantization) info.Config.QuantizationConfig = quantization.Clone();
        info.Config.Metadata.Add(_create.Metadata);
        foreach (var (field, type) in _indexes)
        {
            ulong indexed = (ulong)_points.Values.Count(p => PayloadPath.Values(p.Payload, field).Count > 0);
            info.PayloadSchema[field] = new PayloadSchemaInfo { DataType = type, Points = indexed };
        }
        return info;
    }

    public void CreateIndex(CreateFieldIndexCollection request)
    {
        if (string.IsNullOrEmpty(request.FieldName)) throw Errors.BadInput("Field name is empty");
        if (!request.HasFieldType) throw Errors.BadInput("field_type is required to create an index");
        PayloadPath.Parse(request.FieldName); // validates the path
        _indexes[request.FieldName] = request.FieldType switch
        {
            FieldType.Keyword => PayloadSchemaType.Keyword,
            FieldType.Integer => PayloadSchemaType.Integer,
            FieldType.Float => PayloadSchemaType.Float,
            FieldType.Bool => PayloadSchemaType.Bool,
            FieldType.Text => PayloadSchemaType.Text,
            FieldType.Datetime => PayloadSchemaType.Datetime,
            FieldType.Uuid => PayloadSchemaType.Uuid,
            _ => throw Errors.Unimplemented($"payload index type {request.FieldType}"),
        };
    }

    // ---------------------------------------------------------------- writes

    /// <summary>Validates every point first: a bad batch changes nothing.</summary>
    public void Upsert(RepeatedField<PointStruct> points)
    {
        var incoming = new List<StoredPoint>(points.Count);
        ulong version = ++_version;
        foreach (var point in points) incoming.Add(MakePoint(point, version));
        foreach (var point in incoming) _points[point.Key] = point;
    }

    private StoredPoint MakePoint(PointStruct point, ulong version)
    {
        if (point.Id is null) throw Errors.BadInput("Point id is required");
        var key = PointKey.From(point.Id);
        float[]? dense = null;
        var sparse = new Dictionary<string, SparseValues>(StringComparer.Ordinal);
        switch (point.Vectors?.VectorsOptionsCase)
        {
            case Vectors.VectorsOptionsOneofCase.Vector:
                dense = Dense(point.Vectors.Vector);
                break;
            case Vectors.VectorsOptionsOneofCase.Vectors_:
                foreach (var (name, vector) in point.Vectors.Vectors_.Vectors)
                {
                    if (name.Length == 0) { dense = Dense(vector); continue; }
                    if (!_sparse.ContainsKey(name)) throw Errors.BadInput($"Not existing vector name error: {name}");
                    if (vector.VectorCase != Vector.VectorOneofCase.Sparse) throw Errors.BadInput($"Vector '{name}' is sparse; a dense vector was given");
                    sparse[name] = SparseValues.From(vector.Sparse.Indices, vector.Sparse.Values);
                }
                break;
            default:
                throw Errors.BadInput("Point vectors are required");
        }
        if (dense is null) throw Errors.BadInput("Missing vector: the collection's unnamed dense vector is required");
        if (dense.Length != Size) throw Errors.BadInput($"Vector dimension error: expected dim: {Size}, got {dense.Length}");
        if (Distance == Distance.Cosine) Normalize(dense); // Qdrant stores cosine vectors normalised
        var payload = new MapField<string, Value>();
        foreach (var (k, v) in point.Payload) payload[k] = v.Clone();
        return new StoredPoint(key, dense, payload, version, sparse);
    }

    private static float[] Dense(Vector vector) => vector.VectorCase switch
    {
        Vector.VectorOneofCase.Dense => [.. vector.Dense.Data],
#pragma warning disable CS0612 // the deprecated flat form older clients send
        Vector.VectorOneofCase.None when vector.Data.Count > 0 && vector.Indices is null => [.. vector.Data],
#pragma warning restore CS0612
        _ => throw Errors.BadInput("The unnamed vector must be dense"),
    };

    public int Delete(PointsSelector selector)
    {
        var keys = selector.PointsSelectorOneOfCase switch
        {
            PointsSelector.PointsSelectorOneOfOneofCase.Points => selector.Points.Ids.Select(PointKey.From).ToList(),
            PointsSelector.PointsSelectorOneOfOneofCase.Filter => [.. _points.Values.Where(p => StandInFilter.Matches(selector.Filter, p)).Select(p => p.Key)],
            _ => throw Errors.BadInput("A points selector needs ids or a filter"),
        };
        int removed = 0;
        foreach (var key in keys) if (_points.Remove(key)) removed++;
        ++_version;
        return removed;
    }

    // ---------------------------------------------------------------- reads

    public IEnumerable<RetrievedPoint> Get(GetPoints request)
    {
        var seen = new HashSet<PointKey>();
        foreach (var id in request.Ids)
        {
            var key = PointKey.From(id);
            if (seen.Add(key) && _points.TryGetValue(key, out var point)) yield return Retrieved(point, request.WithPayload, request.WithVectors);
        }
    }

    public ulong Count(Filter? filter) => (ulong)_points.Values.Count(p => StandInFilter.Matches(filter, p));

    public (List<RetrievedPoint> Page, PointId? Next) Scroll(ScrollPoints request)
    {
        int limit = request.HasLimit ? (int)request.Limit : 10;
        if (limit < 1) throw Errors.BadInput("Limit must be at least 1");
        PointKey? offset = request.Offset is { } o ? PointKey.From(o) : null;
        var page = new List<RetrievedPoint>();
        foreach (var (key, point) in _points)
        {
            if (offset is { } start && key.CompareTo(start) < 0) continue;
            if (!StandInFilter.Matches(request.Filter, point)) continue;
            if (page.Count == limit) return (page, key.ToPointId());
            page.Add(Retrieved(point, request.WithPayload, request.WithVectors));
        }
        return (page, null);
    }

    public List<ScoredPoint> RunQuery(QueryPoints request)
    {
        ulong limit = request.HasLimit ? request.Limit : 10;
        ulong offset = request.HasOffset ? request.Offset : 0;
        if (limit < 1) throw Errors.BadInput("Limit must be at least 1");
        var scored = Scored(request.Query, request.Prefetch, request.HasUsing ? request.Using : null, request.Filter, request.Params, (int)(limit + offset),
            request.HasScoreThreshold ? request.ScoreThreshold : null);
        var result = new List<ScoredPoint>();
        foreach (var (point, score) in scored.Skip((int)offset))
        {
            var hit = new ScoredPoint { Id = point.Key.ToPointId(), Score = score, Version = point.Version };
            var record = Retrieved(point, request.WithPayload ?? new WithPayloadSelector { Enable = false }, request.WithVectors);
            hit.Payload.Add(record.Payload);
            if (record.Vectors is not null) hit.Vectors = record.Vectors;
            result.Add(hit);
        }
        return result;
    }

    /// <summary>The best <paramref name="limit"/> points of a query: fused prefetches, or nearest neighbours of a dense or sparse vector.</summary>
    private List<(StoredPoint Point, float Score)> Scored(Query? query, RepeatedField<PrefetchQuery> prefetch, string? vectorName, Filter? filter,
        SearchParams? parameters, int limit, float? threshold)
    {
        if (prefetch.Count > 0) return Fused(query, prefetch, filter, limit);
        if (query?.VariantCase != Query.VariantOneofCase.Nearest) throw Errors.Unimplemented($"query {query?.VariantCase.ToString() ?? "without a query"}");
        var input = query.Nearest;
        if (input.VariantCase == VectorInput.VariantOneofCase.Sparse)
        {
            if (vectorName is null || !_sparse.TryGetValue(vectorName, out var modifier))
                throw Errors.BadInput($"Not existing vector name error: {vectorName ?? ""}");
            return Sparse(vectorName, modifier, SparseValues.From(input.Sparse.Indices, input.Sparse.Values), filter, limit);
        }
        if (!string.IsNullOrEmpty(vectorName)) throw Errors.BadInput($"Not existing vector name error: {vectorName}");
        float[] dense = input.VariantCase switch
        {
            VectorInput.VariantOneofCase.Dense => [.. input.Dense.Data],
            VectorInput.VariantOneofCase.Id => _points.TryGetValue(PointKey.From(input.Id), out var p) ? (float[])p.Vector.Clone()
                : throw Errors.NotFound($"No point with id {input.Id} found"),
            _ => throw Errors.Unimplemented($"nearest query by {input.VariantCase}"),
        };
        _ = parameters; // exact search: hnsw_ef and friends change nothing here
        return Dense(dense, filter, limit, threshold);
    }

    /// <summary>Reciprocal rank fusion of the prefetches: Σ 1 / (k + rank), rank 1-based (k default 2), then the outer filter.</summary>
    private List<(StoredPoint Point, float Score)> Fused(Query? query, RepeatedField<PrefetchQuery> prefetches, Filter? filter, int limit)
    {
        uint k = query?.VariantCase switch
        {
            Query.VariantOneofCase.Rrf => query.Rrf.HasK ? query.Rrf.K : 2,
            Query.VariantOneofCase.Fusion when query.Fusion == Fusion.Rrf => 2,
            _ => throw Errors.Unimplemented($"prefetch with {query?.VariantCase.ToString() ?? "no query"} (RRF only)"),
        };
        if (query.VariantCase == Query.VariantOneofCase.Rrf && query.Rrf.Weights.Count > 0) throw Errors.Unimplemented("weighted RRF");
        var fused = new Dictionary<PointKey, (StoredPoint Point, float Score)>();
        foreach (var prefetch in prefetches)
        {
            if (prefetch.Prefetch.Count > 0) throw Errors.Unimplemented("nested prefetches");
            var ranked = Scored(prefetch.Query, prefetch.Prefetch, prefetch.HasUsing ? prefetch.Using : null, prefetch.Filter, prefetch.Params,
                prefetch.HasLimit ? (int)prefetch.Limit : 10, prefetch.HasScoreThreshold ? prefetch.ScoreThreshold : null);
            for (int i = 0; i < ranked.Count; i++)
            {
                var (point, _) = ranked[i];
                fused[point.Key] = (point, fused.GetValueOrDefault(point.Key).Score + 1f / (k + i + 1));
            }
        }
        return [.. fused.Values.Where(p => StandInFilter.Matches(filter, p.Point)).OrderByDescending(p => p.Score).ThenBy(p => p.Point.Key).Take(limit)];
    }

    /// <summary>Sparse dot product (query values times the IDF, ln((n − df + 0.5) / (df + 0.5) + 1), with the idf modifier) over points sharing an index.</summary>
    private List<(StoredPoint Point, float Score)> Sparse(string name, Modifier modifier, SparseValues query, Filter? filter, int limit)
    {
        var withVector = _points.Values.Where(p => p.Sparse.ContainsKey(name)).ToList();
        var weights = new float[query.Indices.Length];
        for (int i = 0; i < weights.Length; i++)
        {
            uint index = query.Indices[i];
            int df = withVector.Count(p => Array.IndexOf(p.Sparse[name].Indices, index) >= 0);
            weights[i] = modifier == Modifier.Idf ? query.Values[i] * (float)Math.Log((withVector.Count - df + 0.5) / (df + 0.5) + 1.0) : query.Values[i];
        }
        var scored = new List<(StoredPoint, float)>();
        foreach (var point in withVector)
        {
            if (!StandInFilter.Matches(filter, point)) continue;
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

    private List<(StoredPoint Point, float Score)> Dense(float[] query, Filter? filter, int limit, float? threshold)
    {
        if (query.Length != Size) throw Errors.BadInput($"Vector dimension error: expected dim: {Size}, got {query.Length}");
        if (Distance == Distance.Cosine) Normalize(query);
        bool higherIsBetter = Distance is Distance.Cosine or Distance.Dot;
        var scored = new List<(StoredPoint Point, float Score)>();
        foreach (var point in _points.Values)
        {
            if (!StandInFilter.Matches(filter, point)) continue;
            float score = Score(query, point.Vector);
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

    /// <summary>Qdrant's scores: similarity for Cosine (of normalised vectors) and Dot, distance for Euclid and Manhattan.</summary>
    private float Score(float[] q, float[] v)
    {
        double sum = 0;
        switch (Distance)
        {
            case Distance.Cosine or Distance.Dot:
                for (int i = 0; i < q.Length; i++) sum += (double)q[i] * v[i];
                return (float)sum;
            case Distance.Euclid:
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

    /// <summary>A record honouring the payload selector (all, none, include or exclude fields) and the vectors flag.</summary>
    private static RetrievedPoint Retrieved(StoredPoint point, WithPayloadSelector? withPayload, WithVectorsSelector? withVectors)
    {
        var record = new RetrievedPoint { Id = point.Key.ToPointId() };
        switch (withPayload?.SelectorOptionsCase)
        {
            case null or WithPayloadSelector.SelectorOptionsOneofCase.None:
            case WithPayloadSelector.SelectorOptionsOneofCase.Enable when withPayload.Enable:
                if (withPayload is null || withPayload.Enable) foreach (var (k, v) in point.Payload) record.Payload[k] = v.Clone();
                break;
            case WithPayloadSelector.SelectorOptionsOneofCase.Include:
                foreach (var field in withPayload.Include.Fields)
                    if (point.Payload.TryGetValue(field, out var v)) record.Payload[field] = v.Clone();
                break;
            case WithPayloadSelector.SelectorOptionsOneofCase.Exclude:
                foreach (var (k, v) in point.Payload)
                    if (!withPayload.Exclude.Fields.Contains(k)) record.Payload[k] = v.Clone();
                break;
        }
        if (withVectors is { SelectorOptionsCase: WithVectorsSelector.SelectorOptionsOneofCase.Enable, Enable: true })
        {
            var dense = new DenseVector();
            dense.Data.AddRange(point.Vector);
            record.Vectors = new VectorsOutput { Vector = new VectorOutput { Dense = dense } };
        }
        return record;
    }
}

/// <summary>A stored point.</summary>
internal sealed record StoredPoint(PointKey Key, float[] Vector, MapField<string, Value> Payload, ulong Version, IReadOnlyDictionary<string, SparseValues> Sparse);

/// <summary>A stored or query sparse vector.</summary>
internal sealed record SparseValues(uint[] Indices, float[] Values)
{
    public static SparseValues From(IEnumerable<uint>? indices, IEnumerable<float> values)
    {
        var result = new SparseValues([.. indices ?? []], [.. values]);
        if (result.Indices.Length != result.Values.Length) throw Errors.BadInput("Sparse vector indices and values differ in length");
        if (result.Indices.Distinct().Count() != result.Indices.Length) throw Errors.BadInput("Sparse vector indices must be unique");
        return result;
    }

}

/// <summary>A point id in Qdrant's order: numbers first (ascending), then UUIDs (by their bytes).</summary>
internal readonly record struct PointKey(ulong Number, Guid? Uuid) : IComparable<PointKey>
{
    public static PointKey From(PointId id) => id.PointIdOptionsCase switch
    {
        PointId.PointIdOptionsOneofCase.Num => new PointKey(id.Num, null),
        PointId.PointIdOptionsOneofCase.Uuid => Guid.TryParse(id.Uuid, out var guid) ? new PointKey(0, guid) : throw Errors.BadInput($"Unable to parse UUID: {id.Uuid}"),
        _ => throw Errors.BadInput("Point id is empty"),
    };

    public PointId ToPointId() => Uuid is { } g ? new PointId { Uuid = g.ToString("D") } : new PointId { Num = Number };

    public int CompareTo(PointKey other)
    {
        if (Uuid is null && other.Uuid is null) return Number.CompareTo(other.Number);
        if (Uuid is null) return -1;
        if (other.Uuid is null) return 1;
        return string.CompareOrdinal(Uuid.Value.ToString("N"), other.Uuid.Value.ToString("N"));
    }
}
