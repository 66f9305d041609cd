namespace Retro.Indexer.Cli;

/// <summary>Process exit codes of the indexer (documented in <c>--help</c>).</summary>
public static class ExitCodes
{
    /// <summary>Success (also: a rerun over finished input that had nothing new to do).</summary>
    public const int Ok = 0;
    /// <summary>Nothing could be ingested: no shard found, or every record of this run was rejected.</summary>
    public const int NothingIngested = 1;
    /// <summary>Bad command line or configuration (unknown option, invalid value, missing model folder).</summary>
    public const int Usage = 2;
    /// <summary>The vector store failed (unreachable, refused a write, conflicting collection).</summary>
    public const int StoreFailed = 3;
    /// <summary><c>verify</c> found unreadable or inconsistent chunks.</summary>
    public const int VerifyProblems = 4;
    /// <summary>Interrupted (Ctrl+C); what was committed stays committed and a rerun resumes.</summary>
    public const int Cancelled = 130;

    /// <summary>The text listing every code, for <c>--help</c>.</summary>
    public const string Help = "Exit codes: 0 ok (or nothing new to do); 1 nothing could be ingested; 2 bad command line or configuration; "
        + "3 vector store failure; 4 verify found problems; 130 interrupted (rerun resumes).";
}
