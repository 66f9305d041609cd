using Xunit.Abstractions;
using Xunit.Sdk;

namespace Retro.VectorStore.Tests.Contract;

/// <summary>
/// A fact that may skip itself at run time by throwing <see cref="ContractSkipException"/> (xunit 2 has no dynamic
/// skip): the contract suite uses it so that a store without a reachable backend reports "skipped", not "passed".
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
[XunitTestCaseDiscoverer("Retro.VectorStore.Tests.Contract.ContractFactDiscoverer", "Retro.VectorStore.Tests")]
public sealed class ContractFactAttribute : FactAttribute;

/// <summary>Thrown by a test to report itself skipped with a reason.</summary>
public sealed class ContractSkipException(string reason) : Exception(reason);

/// <summary>Discovers <see cref="ContractFactAttribute"/> methods as <see cref="SkippableTestCase"/>s.</summary>
public sealed class ContractFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        yield return new SkippableTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
            discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
    }
}

/// <summary>A test case that turns a failure by <see cref="ContractSkipException"/> into a skip.</summary>
public sealed class SkippableTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippableTestCase() { }

    public SkippableTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay defaultMethodDisplay,
        TestMethodDisplayOptions defaultMethodDisplayOptions, ITestMethod testMethod)
        : base(diagnosticMessageSink, defaultMethodDisplay, defaultMethodDisplayOptions, testMethod) { }

    public override async Task<RunSummary> RunAsync(IMessageSink diagnosticMessageSink, IMessageBus messageBus,
        object[] constructorArguments, ExceptionAggregator aggregator, CancellationTokenSource cancellationTokenSource)
    {
        var bus = new SkippingMessageBus(messageBus);
        var summary = await base.RunAsync(diagnosticMessageSink, bus, constructorArguments, aggregator, cancellationTokenSource);
        summary.Failed -= bus.Skipped;
        summary.Skipped += bus.Skipped;
        return summary;
    }

    private sealed class SkippingMessageBus(IMessageBus inner) : IMessageBus
    {
        public int Skipped { get; private set; }

        public bool QueueMessage(IMessageSinkMessage message)
        {
            if (message is ITestFailed failed && failed.ExceptionTypes.Length > 0
                && failed.ExceptionTypes[0] == typeof(ContractSkipException).FullName)
            {
                Skipped++;
                return inner.QueueMessage(new TestSkipped(failed.Test, failed.Messages[0]));
            }
            return inner.QueueMessage(message);
        }

        public void Dispose() => inner.Dispose();
    }
}
