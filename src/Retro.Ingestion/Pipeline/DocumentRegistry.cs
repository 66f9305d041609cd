using System.Security.Cryptography;
using System.Text;
using Retro.Ingestion.Reading;
using Retro.Ingestion.State;

namespace Retro.Ingestion.Pipeline;

/// <summary>
/// Decides each document's identity and whether it is an exact duplicate, in read order: identity is the url, else
/// <c>sha256:&lt;hex&gt;</c> of the text; a url already taken by a different text gets <c>#&lt;hash prefix&gt;</c>
/// appended. A text seen before (in this run or a previous one) is a duplicate unless it is the same record of the
/// same shard being replayed after a crash. Documents in flight are held in memory until committed.
/// </summary>
internal sealed class DocumentRegistry(IndexerState state)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DocumentRow> _byHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _hashById = new(StringComparer.Ordinal);

    /// <summary>SHA-256 of the UTF-8 text.</summary>
    public static byte[] Hash(string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int n = Encoding.UTF8.GetBytes(text, buffer);
            return SHA256.HashData(buffer.AsSpan(0, n));
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Claims an identity for <paramref name="document"/> read as record <paramref name="record"/> of <paramref name="shardKey"/>.</summary>
    public (string DocumentId, byte[] Hash, bool Duplicate) Claim(SourceDocument document, string shardKey, long record)
    {
        byte[] hash = Hash(document.Text);
        string hex = Convert.ToHexStringLower(hash);
        lock (_lock)
        {
            // In flight first, then the database: the committer writes the database before forgetting in-flight rows.
            var seen = _byHash.GetValueOrDefault(hex) ?? state.FindByHash(hash);
            if (seen is not null)
            {
                bool replay = seen.ShardKey == shardKey && seen.Record == record;
                return (seen.DocumentId, hash, !replay);
            }
            string id = document.Url ?? "sha256:" + hex;
            if (IsTaken(id, hex)) id = $"{id}#{hex[..16]}";
            _byHash[hex] = new DocumentRow(id, hash, shardKey, record, 0);
            _hashById[id] = hex;
            return (id, hash, false);
        }
    }

    /// <summary>Forgets committed documents (they are now in the database).</summary>
    public void Forget(IReadOnlyList<DocumentRow> rows)
    {
        lock (_lock)
        {
            foreach (var row in rows)
            {
                _byHash.Remove(Convert.ToHexStringLower(row.TextHash));
                _hashById.Remove(row.DocumentId);
            }
        }
    }

    private bool IsTaken(string id, string hex)
    {
        if (_hashById.TryGetValue(id, out string? other)) return other != hex;
        return state.FindById(id) is { } row && Convert.ToHexStringLower(row.TextHash) != hex;
    }
}
