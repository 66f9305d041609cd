using Qdrant.Client.Grpc;
using Retro.Core;

namespace Retro.VectorStore.Qdrant;

/// <summary>Payload field names of chunk points and <see cref="SearchOptions"/> → Qdrant filters.</summary>
public static class QdrantFilters
{
    /// <summary>Payload field of the document identity (keyword index).</summary>
    public const string DocumentIdField = QdrantPayload.DocumentId;

    /// <summary>Payload object holding a chunk's metadata.</summary>
    public const string MetadataField = QdrantPayload.Metadata;

    /// <summary>
    /// The filter that keeps exactly the points <paramref name="options"/> accepts (see <see cref="SearchOptions.Accepts"/>),
    /// or null when it has no condition. <see cref="SearchOptions.OnlyDocuments"/> → <c>must</c> keyword-any,
    /// <see cref="SearchOptions.ExcludeDocument"/> → <c>must_not</c> keyword, each metadata pair → <c>must</c> keyword on
    /// <c>metadata.&lt;key&gt;</c>. An empty <see cref="SearchOptions.OnlyDocuments"/> matches nothing; callers
    /// short-circuit it.
    /// </summary>
    public static Filter? From(SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.HasFilter) return null;
        var filter = new Filter();
        if (options.OnlyDocuments is { } only)
        {
            var any = new RepeatedStrings();
            var seen = new HashSet<string>(only.Count, StringComparer.Ordinal);
            foreach (var document in only)
            {
                if (seen.Add(document)) any.Strings.Add(document);
            }
            filter.Must.Add(Field(DocumentIdField, new Match { Keywords = any }));
        }
        if (options.ExcludeDocument is { } excluded)
            filter.MustNot.Add(DocumentIs(excluded));
        if (options.MetadataEquals is { Count: > 0 } metadata)
        {
            foreach (var (key, value) in metadata)
                filter.Must.Add(Field(MetadataPath(key), new Match { Keyword = value }));
        }
        return filter;
    }

    /// <summary>The filter matching every point of one document.</summary>
    public static Filter Document(string documentId)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        return new Filter { Must = { DocumentIs(documentId) } };
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

    private static Condition DocumentIs(string documentId) => Field(DocumentIdField, new Match { Keyword = documentId });

    private static Condition Field(string key, Match match) => new() { Field = new FieldCondition { Key = key, Match = match } };
}
