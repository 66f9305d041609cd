namespace Retro.Ingestion.Reading;

/// <summary>Why a record or a whole shard was quarantined. Written by name (kebab-case) to the rejects file.</summary>
public enum RejectReason
{
    /// <summary>The line is not a JSON object.</summary>
    MalformedJson = 0,
    /// <summary>The object has no <c>text</c> field.</summary>
    MissingText = 1,
    /// <summary><c>text</c> is empty or only white space.</summary>
    EmptyText = 2,
    /// <summary><c>text</c> is not a JSON string.</summary>
    NonStringText = 3,
    /// <summary>The line is not valid UTF-8.</summary>
    InvalidUtf8 = 4,
    /// <summary>The line is longer than the configured maximum document size.</summary>
    TooLarge = 5,
    /// <summary>The gzip stream ends early or is corrupt; records before the damage were kept.</summary>
    CorruptCompression = 6,
    /// <summary>The shard holds binary data (NUL bytes at its start), not JSON lines.</summary>
    BinaryFile = 7,
    /// <summary>The shard cannot be opened (a directory, a dangling link, no permission, vanished).</summary>
    Unreadable = 8,
}

/// <summary>Names of <see cref="RejectReason"/> as written to the rejects file and the summary.</summary>
public static class RejectReasons
{
    /// <summary>Every reason, in declaration order.</summary>
    public static readonly RejectReason[] All = Enum.GetValues<RejectReason>();

    /// <summary>The kebab-case name of <paramref name="reason"/>, e.g. <c>malformed-json</c>.</summary>
    public static string Name(RejectReason reason) => reason switch
    {
        RejectReason.MalformedJson => "malformed-json",
        RejectReason.MissingText => "missing-text",
        RejectReason.EmptyText => "empty-text",
        RejectReason.NonStringText => "non-string-text",
        RejectReason.InvalidUtf8 => "invalid-utf8",
        RejectReason.TooLarge => "too-large",
        RejectReason.CorruptCompression => "corrupt-compression",
        RejectReason.BinaryFile => "binary-file",
        RejectReason.Unreadable => "unreadable",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Unknown reject reason."),
    };
}
