using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>
/// Body of <c>POST /collections/{name}/points/query</c> (<c>QueryRequest</c>), nearest-neighbour form: the query is a
/// dense vector for the collection's unnamed vector.
/// </summary>
public sealed record QueryRequest
{
    /// <summary>The query vector (length = the collection's size).</summary>
    public required ReadOnlyMemory<float> Query { get; init; }

    /// <summary>Number of results (≥ 1).</summary>
    public required uint Limit { get; init; }

    /// <summary>Only points matching this filter.</summary>
    public Filter? Filter { get; init; }

    /// <summary>Search parameters (beam width, exactness).</summary>
    public SearchParams? Params { get; init; }

    /// <summary>
    /// Only results scoring better than this: similarity ≥ threshold for Cosine/Dot, distance ≤ threshold for Euclid.
    /// </summary>
    public float? ScoreThreshold { get; init; }

    /// <summary>Return payloads.</summary>
    public bool WithPayload { get; init; }

    /// <summary>Return vectors.</summary>
    public bool WithVector { get; init; }
}

/// <summary>Body of <c>POST /collections/{name}/points/query/batch</c> (<c>QueryRequestBatch</c>).</summary>
public sealed record QueryRequestBatch
{
    /// <summary>The queries; results come back in the same order.</summary>
    public required IReadOnlyList<QueryRequest> Searches { get; init; }
}

/// <summary>Search parameters (<c>SearchParams</c>).</summary>
public sealed record SearchParams
{
    /// <summary>HNSW beam width (≥ 1; null = the collection's default).</summary>
    public uint? HnswEf { get; init; }

    /// <summary>Brute force instead of the index.</summary>
    public bool? Exact { get; init; }

    /// <summary>Quantization parameters.</summary>
    public QuantizationSearchParams? Quantization { get; init; }
}

/// <summary>Quantized search parameters (<c>QuantizationSearchParams</c>).</summary>
public sealed record QuantizationSearchParams
{
    /// <summary>Rescore the best candidates with the original vectors.</summary>
    public bool? Rescore { get; init; }

    /// <summary>Candidates taken from the quantized index per result (≥ 1).</summary>
    public double? Oversampling { get; init; }
}

/// <summary>Result of a query (<c>QueryResponse</c>).</summary>
public sealed record QueryResponse
{
    /// <summary>Results, best first.</summary>
    [JsonRequired]
    public IReadOnlyList<ScoredPoint> Points { get; init; } = [];
}

/// <summary>One search result (<c>ScoredPoint</c>).</summary>
public sealed record ScoredPoint
{
    /// <summary>Point id.</summary>
    [JsonRequired]
    public PointId Id { get; init; }

    /// <summary>Point version.</summary>
    [JsonRequired]
    public ulong Version { get; init; }

    /// <summary>Qdrant's score: similarity for Cosine/Dot (higher is closer), distance for Euclid/Manhattan (lower is closer).</summary>
    [JsonRequired]
    public float Score { get; init; }

    /// <summary>Payload when requested.</summary>
    public JsonElement? Payload { get; init; }

    /// <summary>Vector when requested.</summary>
    public JsonElement? Vector { get; init; }
}

/// <summary>
/// A filter (<c>Filter</c>): every <see cref="Must"/> condition holds, no <see cref="MustNot"/> condition holds, and
/// when <see cref="Should"/> is set at least one of its conditions holds.
/// </summary>
public sealed record Filter
{
    /// <summary>Conditions that must all hold.</summary>
    public IReadOnlyList<FieldCondition>? Must { get; init; }

    /// <summary>Conditions none of which may hold.</summary>
    public IReadOnlyList<FieldCondition>? MustNot { get; init; }

    /// <summary>Conditions at least one of which must hold.</summary>
    public IReadOnlyList<FieldCondition>? Should { get; init; }
}

/// <summary>A condition on one payload field (<c>FieldCondition</c> with <c>match</c>).</summary>
public sealed record FieldCondition
{
    /// <summary>Payload path: raw keys (letters, digits, <c>_</c>, <c>-</c>) or quoted keys joined by dots.</summary>
    public required string Key { get; init; }

    /// <summary>The match.</summary>
    public required Match Match { get; init; }
}

/// <summary>A keyword match (<c>MatchValue</c>, <c>MatchAny</c> or <c>MatchExcept</c>): exactly one member is set.</summary>
public sealed record Match
{
    /// <summary>The field equals this value (for arrays: some element does).</summary>
    public string? Value { get; init; }

    /// <summary>The field equals one of these values.</summary>
    public IReadOnlyList<string>? Any { get; init; }

    /// <summary>The field equals none of these values.</summary>
    public IReadOnlyList<string>? Except { get; init; }
}
