using GanInference.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using GanInferenceClient = GanInference.Api.V1.GanInference.GanInferenceClient;

// In Microsoft's namespace so `services.AddGanClient(...)` is found without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="GanClient"/> with Grpc.Net.ClientFactory.</summary>
public static class GanClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers the generated <see cref="GanInferenceClient"/> (through Grpc.Net.ClientFactory, which
    /// manages the HTTP handler's lifetime) and a transient <see cref="GanClient"/> over it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets <see cref="GanClientOptions"/>.</param>
    /// <returns>The HTTP client builder, to add handlers or interceptors.</returns>
    public static IHttpClientBuilder AddGanClient(this IServiceCollection services, Action<GanClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<GanClientOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>
    /// Same as <see cref="AddGanClient(IServiceCollection, Action{GanClientOptions})"/>, with the options
    /// bound from a configuration section (usually <see cref="GanClientOptions.SectionName"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">Holds <c>Address</c>, <c>UnaryDeadline</c>, <c>Retry:MaxAttempts</c>, ...</param>
    /// <returns>The HTTP client builder, to add handlers or interceptors.</returns>
    public static IHttpClientBuilder AddGanClient(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.AddOptions<GanClientOptions>().Bind(section);
        return AddCore(services);
    }

    private static IHttpClientBuilder AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GanClientOptions>, GanClientOptionsValidator>());

        var builder = services
            .AddGrpcClient<GanInferenceClient>((provider, factory) =>
                factory.Address = GanChannelOptions.Target(provider.GetRequiredService<IOptions<GanClientOptions>>().Value))
            .ConfigureChannel((provider, channel) =>
                GanChannelOptions.Apply(provider.GetRequiredService<IOptions<GanClientOptions>>().Value, channel))
            .ConfigurePrimaryHttpMessageHandler(provider =>
                GanChannelOptions.CreateHandler(provider.GetRequiredService<IOptions<GanClientOptions>>().Value));

        services.AddTransient(provider => new GanClient(
            provider.GetRequiredService<GanInferenceClient>(),
            provider.GetRequiredService<IOptions<GanClientOptions>>().Value));
        return builder;
    }
}

/// <summary>Reports the first out-of-range setting by name when the options are first used.</summary>
internal sealed class GanClientOptionsValidator : IValidateOptions<GanClientOptions>
{
    public ValidateOptionsResult Validate(string? name, GanClientOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
