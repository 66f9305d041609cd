using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;

namespace Retro.VectorStore.Qdrant;

/// <summary>Payload field names of chunk points and <see cref="SearchOptions"/> → Qdrant filter JSON.</summary>
public static class QdrantFilters
{
    /// <summary>Payload field of the document identity (keyword index).</summary>
    public const string DocumentIdField = "document_id";

    /// <summary>Payload object holding a chunk's metadata.</summary>
    public const string MetadataField = "metadata";

    /// <summary>
    /// The filter that keeps exactly the points <paramref name="options"/> accepts (see <see cref="SearchOptions.Accepts"/>),
    /// or null when it has no condition. <see cref="SearchOptions.OnlyDocuments"/> → <c>must match.any</c>,
    /// <see cref="SearchOptions.ExcludeDocument"/> → <c>must_not match.value</c>, each metadata pair →
    /// <c>must</c> on <c>metadata.&lt;key&gt;</c>. An empty <see cref="SearchOptions.OnlyDocuments"/> matches nothing;
    /// callers short-circuit it.
    /// </summary>
    public static Filter? From(SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.HasFilter) return null;
        List<FieldCondition>? must = null;
        List<FieldCondition>? mustNot = null;
        if (options.OnlyDocuments is { } only)
        {
            var any = new List<string>(only.Count);
            var seen = new HashSet<string>(only.Count, StringComparer.Ordinal);
            foreach (var document in only)
            {
                if (seen.Add(document)) any.Add(document); // the spec asks for unique items
            }
            (must ??= []).Add(new FieldCondition { Key = DocumentIdField, Match = new Match { Any = any } });
        }
        if (options.ExcludeDocument is { } excluded)
            (mustNot ??= []).Add(DocumentIs(excluded));
        if (options.MetadataEquals is { Count: > 0 } metadata)
        {
            foreach (var (key, value) in metadata)
                (must ??= []).Add(new FieldCondition { Key = MetadataPath(key), Match = new Match { Value = value } });
        }
        return new Filter { Must = must, MustNot = mustNot };
    }

    /// <summary>The filter matching every point of one document.</summary>
    public static Filter Document(string documentId)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        return new Filter { Must = [DocumentIs(documentId)] };
    }

    /// <summary>
    /// Payload path of metadata key <paramref name="key"/>: <c>metadata.key</c> when the key is a raw key of Qdrant's
    /// path syntax (letters, digits, <c>_</c>, <c>-</c>), else <c>metadata."key"</c>. Keys holding <c>"</c> or <c>\</c>
    /// cannot be addressed and throw <see cref="ArgumentException"/>.
    /// </summary>
    public static string MetadataPath(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        bool raw = true;
        foreach (char c in key)
        {
            if (c is '"' or '\\') throw new ArgumentException($"Metadata key '{key}' cannot be filtered on in Qdrant: its path syntax has no escape for '\"' or '\\'.", nameof(key));
            if (!(char.IsLetterOrDigit(c) || c is '_' or '-')) raw = false;
        }
        return raw ? $"{MetadataField}.{key}" : $"{MetadataField}.\"{key}\"";
    }

    private static FieldCondition DocumentIs(string documentId) => new() { Key = DocumentIdField, Match = new Match { Value = documentId } };
}
