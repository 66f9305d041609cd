using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>A sparse vector (<c>SparseVector</c>): unique indices and their values, the same length.</summary>
public sealed record SparseVector
{
    /// <summary>Indices (unique; Retro writes them ascending).</summary>
    public required IReadOnlyList<uint> Indices { get; init; }

    /// <summary>Values, one per index.</summary>
    public required IReadOnlyList<float> Values { get; init; }
}

/// <summary>Parameters of a named sparse vector (<c>SparseVectorParams</c>).</summary>
public sealed record SparseVectorParams
{
    /// <summary><c>idf</c>: Qdrant multiplies each query index by its inverse document frequency at query time; <c>none</c> or null: no change.</summary>
    public string? Modifier { get; init; }
}

/// <summary>
/// Body of <c>POST /collections/{name}/points/query</c> (<c>QueryRequest</c>) in its sparse nearest-neighbour form:
/// the query is a sparse vector for the named sparse vector <see cref="Using"/>.
/// </summary>
public sealed record SparseQueryRequest
{
    /// <summary>The sparse query vector.</summary>
    public required SparseVector Query { get; init; }

    /// <summary>Name of the collection's sparse vector to search.</summary>
    public required string Using { get; init; }

    /// <summary>Number of results (≥ 1).</summary>
    public required uint Limit { get; init; }

    /// <summary>Only points matching this filter.</summary>
    public Filter? Filter { get; init; }

    /// <summary>Return payloads.</summary>
    public bool WithPayload { get; init; }
}

/// <summary>
/// Body of <c>POST /collections/{name}/points/query</c> (<c>QueryRequest</c>) in its hybrid form: sub-queries
/// (<see cref="Prefetch"/>) run first and their results are fused by reciprocal rank fusion, in one call.
/// </summary>
public sealed record FusionQueryRequest
{
    /// <summary>The sub-queries whose results are fused.</summary>
    public required IReadOnlyList<Prefetch> Prefetch { get; init; }

    /// <summary>The fusion (<c>RrfQuery</c>).</summary>
    public required RrfQuery Query { get; init; }

    /// <summary>Number of fused results (≥ 1).</summary>
    public required uint Limit { get; init; }

    /// <summary>Only points matching this filter.</summary>
    public Filter? Filter { get; init; }

    /// <summary>Return payloads.</summary>
    public bool WithPayload { get; init; }
}

/// <summary>A sub-query (<c>Prefetch</c>).</summary>
public sealed record Prefetch
{
    /// <summary>The query: a dense vector (JSON array) or a sparse vector (JSON object), as <c>VectorInput</c>.</summary>
    public required JsonElement Query { get; init; }

    /// <summary>Named vector to search (null = the unnamed dense vector).</summary>
    public string? Using { get; init; }

    /// <summary>Results of this sub-query (≥ 1).</summary>
    public required uint Limit { get; init; }

    /// <summary>Only points matching this filter.</summary>
    public Filter? Filter { get; init; }

    /// <summary>Search parameters.</summary>
    public SearchParams? Params { get; init; }
}

/// <summary>Reciprocal rank fusion of the prefetches (<c>RrfQuery</c>).</summary>
public sealed record RrfQuery
{
    /// <summary>RRF parameters.</summary>
    public required Rrf Rrf { get; init; }
}

/// <summary>RRF parameters (<c>Rrf</c>).</summary>
public sealed record Rrf
{
    /// <summary>k of 1 / (k + rank) (≥ 1; null = the server's default).</summary>
    public uint? K { get; init; }

    /// <summary>One weight per prefetch (null = equal).</summary>
    public IReadOnlyList<float>? Weights { get; init; }
}

/// <summary>
/// Writes a <see cref="PointStruct"/>: <c>vector</c> is the dense array alone, or, when the point has sparse vectors, a
/// named-vector object whose <c>""</c> member is the unnamed dense vector (Qdrant's default vector name).
/// </summary>
public sealed class PointStructConverter : JsonConverter<PointStruct>
{
    /// <inheritdoc />
    public override PointStruct Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => throw new NotSupportedException("PointStruct is a request body; Retro never reads one.");

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, PointStruct value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("id");
        JsonSerializer.Serialize(writer, value.Id, QdrantJsonContext.Default.PointId);
        writer.WritePropertyName("vector");
        bool named = value.Sparse is { Count: > 0 };
        if (named)
        {
            writer.WriteStartObject();
            writer.WritePropertyName("");
        }
        writer.WriteStartArray();
        foreach (float x in value.Vector.Span) writer.WriteNumberValue(x);
        writer.WriteEndArray();
        if (named)
        {
            foreach (var (name, sparse) in value.Sparse!)
            {
                writer.WritePropertyName(name);
                JsonSerializer.Serialize(writer, sparse, QdrantJsonContext.Default.SparseVector);
            }
            writer.WriteEndObject();
        }
        if (value.Payload is { } payload)
        {
            writer.WritePropertyName("payload");
            payload.WriteTo(writer);
        }
        writer.WriteEndObject();
    }
}
