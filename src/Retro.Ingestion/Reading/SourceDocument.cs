namespace Retro.Ingestion.Reading;

/// <summary>One document read from a shard: its text, its url (null when the record had none) and other fields as strings.</summary>
/// <param name="Text">The document text (non-empty).</param>
/// <param name="Url">Source url from <c>url</c>, <c>meta.url</c> or <c>metadata.url</c>; null when absent.</param>
/// <param name="Metadata">Other scalar fields (<c>timestamp</c>, normalised from <c>date</c> or <c>meta.timestamp</c>; <c>source</c>, ...).</param>
public sealed record SourceDocument(string Text, string? Url, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A quarantined record or shard.</summary>
/// <param name="Reason">Why it was rejected.</param>
/// <param name="Detail">Human-readable detail (parser message, exception message).</param>
/// <param name="Snippet">The start of the offending line (at most <see cref="ShardRecord.SnippetChars"/> characters), or empty.</param>
public sealed record RecordReject(RejectReason Reason, string Detail, string Snippet);

/// <summary>
/// One outcome of reading a shard: a document, a reject, or neither (a blank line). <see cref="Records"/> and
/// <see cref="EndOffset"/> are the shard position just after this record, as stored in a checkpoint.
/// </summary>
/// <param name="Line">1-based line number of the record (0 for a shard-level reject before any line).</param>
/// <param name="Offset">Offset of the record's first byte in the decompressed stream.</param>
/// <param name="Records">Records handled from the start of the shard, this one included.</param>
/// <param name="EndOffset">Decompressed offset just after this record.</param>
/// <param name="Document">The document, or null.</param>
/// <param name="Reject">The reject, or null.</param>
public sealed record ShardRecord(long Line, long Offset, long Records, long EndOffset, SourceDocument? Document, RecordReject? Reject)
{
    /// <summary>Longest snippet kept in a reject.</summary>
    public const int SnippetChars = 200;
}
