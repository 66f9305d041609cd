using Microsoft.Extensions.Logging;

namespace Retro.VectorStore.Qdrant;

/// <summary>Log messages of the Qdrant store. None carries call metadata: the API key is never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Qdrant {Operation} failed ({Reason}); attempt {Attempt} in {Delay}")]
    public static partial void Retrying(ILogger logger, string operation, int attempt, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Qdrant circuit opened for {BreakDuration}: the server is unreachable or unavailable")]
    public static partial void CircuitOpened(ILogger logger, TimeSpan breakDuration);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Qdrant {Operation} answered in {ElapsedMs} ms")]
    public static partial void Answered(ILogger logger, string operation, double elapsedMs);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Created Qdrant collection {Collection} ({Dimension} dimensions, {Distance})")]
    public static partial void CreatedCollection(ILogger logger, string collection, int dimension, string distance);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Qdrant health probe failed: {Reason}")]
    public static partial void HealthProbeFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Qdrant collection {Collection} has no sparse vector {SparseVector} with the IDF modifier: text (BM25) search is off for it; re-create it to enable")]
    public static partial void NoSparseVector(ILogger logger, string collection, string sparseVector);
}
