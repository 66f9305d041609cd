namespace Retro.Core;

/// <summary>The vector store could not be reached or did not answer in time. Maps to HTTP 503.</summary>
public sealed class VectorStoreUnavailableException : Exception
{
    public VectorStoreUnavailableException(string message) : base(message) { }
    public VectorStoreUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}
