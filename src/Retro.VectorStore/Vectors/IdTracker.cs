using System.Collections.Concurrent;
using Retro.Core;

namespace Retro.VectorStore.Vectors;

/// <summary>
/// Maps external <see cref="ChunkId"/>s to internal dense offsets and keeps, per offset, what filters need (document,
/// metadata) plus the content hash that makes re-upserts no-ops. One writer mutates; searches read snapshots of the
/// per-offset arrays (entries are written before the node is linked into the graph).
/// </summary>
internal sealed class IdTracker
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    private readonly Dictionary<ChunkId, uint> _offsets = [];
    private readonly ConcurrentDictionary<string, DocumentPoints> _documents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyDictionary<string, string>> _metadata = new(StringComparer.Ordinal);
    private readonly List<DocumentPoints> _byIndex = [];
    private PointArrays _arrays = new(0);

    /// <summary>Live points.</summary>
    public int Count { get; private set; }

    /// <summary>The per-offset arrays (a reader's snapshot).</summary>
    public PointArrays Arrays => Volatile.Read(ref _arrays);

    /// <summary>The offset of a live point. Writer only.</summary>
    public bool TryGetOffset(ChunkId id, out uint offset) => _offsets.TryGetValue(id, out offset);

    /// <summary>Whether <paramref name="offset"/> holds a live point. Writer only.</summary>
    public bool IsLive(uint offset) => offset < _arrays.Capacity && _arrays.Live[offset] != 0;

    /// <summary>The content hash stored with a live offset.</summary>
    public long HashOf(uint offset) => _arrays.Hashes[offset];

    /// <summary>Records a live point at <paramref name="offset"/> (the caller removed any previous offset of the id). Writer only.</summary>
    public void Set(uint offset, ChunkId id, string documentId, string metadataJson, long hash)
    {
        EnsureCapacity(offset + 1L);
        var a = _arrays;
        if (!_documents.TryGetValue(documentId, out var document))
        {
            document = new DocumentPoints(_byIndex.Count);
            _byIndex.Add(document);
            _documents[documentId] = document;
        }
        if (!_metadata.TryGetValue(metadataJson, out var metadata))
        {
            metadata = metadataJson == "{}" ? NoMetadata : Payload.PayloadDatabase.ParseMetadata(metadataJson);
            _metadata[metadataJson] = metadata;
        }
        a.Ids[offset] = id;
        a.Documents[offset] = document.Index;
        a.Metadata[offset] = metadata;
        a.Hashes[offset] = hash;
        Volatile.Write(ref a.Live[offset], 1);
        lock (document) document.Offsets.Add(offset);
        _offsets[id] = offset;
        Count++;
    }

    /// <summary>Forgets the live point at <paramref name="offset"/>. Writer only.</summary>
    public void Remove(uint offset)
    {
        var a = _arrays;
        if (offset >= a.Capacity || a.Live[offset] == 0) return;
        Volatile.Write(ref a.Live[offset], 0);
        _offsets.Remove(a.Ids[offset]);
        var d = _byIndex[a.Documents[offset]];
        lock (d) d.Offsets.Remove(offset);
        Count--;
    }

    /// <summary>Live offsets of a document (a copy), empty when unknown.</summary>
    public uint[] OffsetsOf(string documentId)
    {
        if (!_documents.TryGetValue(documentId, out var d)) return [];
        lock (d) return [.. d.Offsets];
    }

    /// <summary>The internal index of a document, or -1 when no point ever had it.</summary>
    public int DocumentIndex(string documentId) => _documents.TryGetValue(documentId, out var d) ? d.Index : -1;

    private void EnsureCapacity(long count)
    {
        if (count <= _arrays.Capacity) return;
        Volatile.Write(ref _arrays, _arrays.Grow((int)Math.Max(count, Math.Max(1024, _arrays.Capacity * 3L / 2))));
    }

    private sealed class DocumentPoints(int index)
    {
        public int Index { get; } = index;
        public HashSet<uint> Offsets { get; } = [];
    }
}

/// <summary>Per-offset point data at one capacity.</summary>
internal sealed class PointArrays
{
    public readonly int Capacity;
    public readonly ChunkId[] Ids;
    public readonly int[] Documents;
    public readonly IReadOnlyDictionary<string, string>?[] Metadata;
    public readonly long[] Hashes;
    public readonly byte[] Live;

    public PointArrays(int capacity)
    {
        Capacity = capacity;
        Ids = new ChunkId[capacity];
        Documents = new int[capacity];
        Metadata = new IReadOnlyDictionary<string, string>?[capacity];
        Hashes = new long[capacity];
        Live = new byte[capacity];
    }

    public PointArrays Grow(int capacity)
    {
        var p = new PointArrays(capacity);
        Ids.CopyTo(p.Ids, 0);
        Documents.CopyTo(p.Documents, 0);
        Metadata.CopyTo(p.Metadata, 0);
        Hashes.CopyTo(p.Hashes, 0);
        Live.CopyTo(p.Live, 0);
        return p;
    }
}

/// <summary>A <see cref="SearchOptions"/> filter over offsets, resolved once per query (document names to indices).</summary>
internal sealed class PointFilter : INodeFilter
{
    private readonly IdTracker _tracker;
    private readonly int _exclude;
    private readonly HashSet<int>? _only;
    private readonly KeyValuePair<string, string>[] _metadata;

    public PointFilter(IdTracker tracker, SearchOptions options)
    {
        _tracker = tracker;
        _exclude = options.ExcludeDocument is null ? -1 : tracker.DocumentIndex(options.ExcludeDocument);
        if (options.OnlyDocuments is not null)
        {
            _only = [];
            foreach (var d in options.OnlyDocuments)
            {
                int i = tracker.DocumentIndex(d);
                if (i >= 0) _only.Add(i);
            }
        }
        _metadata = options.MetadataEquals is null ? [] : [.. options.MetadataEquals];
    }

    /// <summary>True when no point can pass (OnlyDocuments names no known document).</summary>
    public bool MatchesNothing => _only is { Count: 0 };

    public bool Accepts(uint node)
    {
        var a = _tracker.Arrays;
        if (node >= a.Capacity || a.Live[node] == 0) return false;
        int document = a.Documents[node];
        if (document == _exclude) return false;
        if (_only is not null && !_only.Contains(document)) return false;
        if (_metadata.Length > 0)
        {
            var metadata = a.Metadata[node];
            if (metadata is null) return false;
            foreach (var (key, value) in _metadata)
            {
                if (!metadata.TryGetValue(key, out var actual) || actual != value) return false;
            }
        }
        return true;
    }
}
