using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.VectorData;
using Retro.Core;

namespace Retro.VectorData;

/// <summary>
/// A Retro vector store (the embedded HNSW store or Qdrant: anything behind <see cref="IVectorStore"/>) as a
/// <see cref="VectorStoreCollection{TKey, TRecord}"/> of <see cref="ChunkRecord"/>: search by text (embedded with the
/// service's bi-encoder) or by vector, get by id, upsert (tokenized with the decoder's tokenizer, so upserted chunks serve
/// as RETRO neighbours; embedded when the record carries no vector). The stores index chunks by document: deleting
/// single chunks and filtered scans are not part of their seams and throw <see cref="NotSupportedException"/>; delete
/// whole documents with <see cref="DeleteDocumentAsync"/>. Thread-safe as the store is.
/// </summary>
public sealed class RetroChunkCollection : VectorStoreCollection<Guid, ChunkRecord>
{
    private readonly IVectorStore _store;
    private readonly ITextEncoder _encoder;
    private readonly ITokenizer _tokenizer;

    /// <summary>Wraps <paramref name="store"/>; <paramref name="encoder"/> embeds texts, <paramref name="tokenizer"/> (the decoder's) tokenizes upserts.</summary>
    public RetroChunkCollection(IVectorStore store, ITextEncoder encoder, ITokenizer tokenizer)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    }

    /// <inheritdoc />
    public override string Name => _store.Collection.Name;

    /// <inheritdoc />
    public override async Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) => await _store.IsHealthyAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public override async Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default) =>
        await _store.EnsureCollectionAsync(_store.Collection with { Dimension = _encoder.Dimension }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The service's collection is not dropped through this adapter; delete the store (embedded folder or Qdrant collection) instead.");

    /// <inheritdoc />
    public override async Task<ChunkRecord?> GetAsync(Guid key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        var chunks = await _store.GetChunksAsync([new ChunkId(key)], cancellationToken).ConfigureAwait(false);
        return chunks[0] is { } chunk ? ToRecord(chunk) : null;
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChunkRecord> GetAsync(Expression<Func<ChunkRecord, bool>> filter, int top, FilteredRecordRetrievalOptions<ChunkRecord>? options = null,
        CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The stores have no filtered scan; search by text or vector, or get by id.");

    /// <inheritdoc />
    public override Task DeleteAsync(Guid key, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The stores delete whole documents (RETRO neighbours are a chunk plus its continuation): use DeleteDocumentAsync.");

    /// <summary>Deletes every chunk of <paramref name="documentId"/>; returns how many there were.</summary>
    public ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default) => _store.DeleteDocumentAsync(documentId, cancellationToken);

    /// <inheritdoc />
    public override Task UpsertAsync(ChunkRecord record, CancellationToken cancellationToken = default) => UpsertAsync([record], cancellationToken);

    /// <inheritdoc />
    public override async Task UpsertAsync(IEnumerable<ChunkRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var list = records.ToList();
        var missing = list.Where(r => r.Embedding is null).ToList();
        var vectors = new float[missing.Count * _encoder.Dimension];
        if (missing.Count > 0) _encoder.Encode(missing.Select(r => Chunk.RetrievalText(r.Title, r.Text)).ToArray(), vectors);
        var points = new List<VectorPoint>(list.Count);
        int m = 0;
        foreach (var r in list)
        {
            ArgumentException.ThrowIfNullOrEmpty(r.DocumentId, nameof(ChunkRecord.DocumentId));
            var id = r.Id == Guid.Empty ? ChunkId.From(r.DocumentId, r.Ordinal) : new ChunkId(r.Id);
            r.Id = id.Value;
            var chunk = new Chunk(id, r.DocumentId, r.Url, r.Ordinal, r.Text, _tokenizer.Encode(r.Text), r.Continuation, _tokenizer.Encode(r.Continuation),
                new Dictionary<string, string>()) { Title = r.Title };
            var vector = r.Embedding ?? vectors.AsMemory(m++ * _encoder.Dimension, _encoder.Dimension);
            if (vector.Length != _encoder.Dimension)
                throw new ArgumentException($"record {id}: embedding of {vector.Length} values, the collection's is {_encoder.Dimension}", nameof(records));
            points.Add(new VectorPoint(chunk, vector));
        }
        await _store.UpsertAsync(points, cancellationToken).ConfigureAwait(false);
        await _store.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The <paramref name="top"/> nearest chunks to <paramref name="searchValue"/>: a string (embedded with the bi-encoder),
    /// <see cref="ReadOnlyMemory{T}"/> of float or float[]; scores as the store gives them (higher is nearer).
    /// </summary>
    public override async IAsyncEnumerable<VectorSearchResult<ChunkRecord>> SearchAsync<TInput>(TInput searchValue, int top, VectorSearchOptions<ChunkRecord>? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        if (options?.Filter is not null) throw new NotSupportedException("Filters are not supported; search without one.");
        ReadOnlyMemory<float> query = searchValue switch
        {
            string text => Embed(text),
            ReadOnlyMemory<float> v => v,
            float[] v => v,
            _ => throw new NotSupportedException($"Search by {typeof(TInput).Name} is not supported: pass a string or a float vector."),
        };
        int skip = options?.Skip ?? 0;
        var hits = new SearchHit[top + skip];
        int found = await _store.SearchAsync(query, new SearchOptions { Limit = hits.Length }, hits, cancellationToken).ConfigureAwait(false);
        if (found <= skip) yield break;
        var ids = hits.Skip(skip).Take(found - skip).Select(h => h.Id).ToList();
        var chunks = await _store.GetChunksAsync(ids, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < ids.Count; i++)
            if (chunks[i] is { } chunk) yield return new VectorSearchResult<ChunkRecord>(ToRecord(chunk), hits[skip + i].Score);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(VectorStoreCollectionMetadata)) return new VectorStoreCollectionMetadata { VectorStoreSystemName = "retro", CollectionName = Name };
        return serviceType.IsInstanceOfType(_store) ? _store : serviceType.IsInstanceOfType(_encoder) ? _encoder : null;
    }

    private float[] Embed(string text)
    {
        var vector = new float[_encoder.Dimension];
        _encoder.Encode([text], vector);
        return vector;
    }

    private static ChunkRecord ToRecord(Chunk c) => new()
    {
        Id = c.Id.Value, DocumentId = c.DocumentId, Ordinal = c.Ordinal, Url = c.Url, Title = c.Title, Text = c.Text, Continuation = c.ContinuationText,
    };
}
