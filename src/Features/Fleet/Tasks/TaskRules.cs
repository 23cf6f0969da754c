using System.Linq.Expressions;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using FluentValidation;

namespace Capstan.Features.Fleet.Tasks;

/// <summary>Rules a task's fields follow on create and update (reference sindri.md §8.12), and the checks both share.</summary>
internal static class TaskRules
{
    public static void Apply<T>(
        AbstractValidator<T> validator, Expression<Func<T, string?>> name, Expression<Func<T, string?>> description, Expression<Func<T, string?>> cron,
        Expression<Func<T, string?>> timezone, Expression<Func<T, string?>> command, Expression<Func<T, long?>> timeoutSec, Expression<Func<T, long?>> maxRetries,
        Expression<Func<T, string[]?>> notifyEmails)
    {
        validator.RuleFor(name).Must(value => value is null || value.Trim().Length is > 0 and <= 128).WithMessage("name must be 1 to 128 characters").OverridePropertyName("name");
        validator.RuleFor(description).MaximumLength(512).OverridePropertyName("description");
        validator.RuleFor(cron).Must(value => value is null || TaskSchedule.IsValid(value)).WithMessage("Invalid cron expression").OverridePropertyName("cron");
        validator.RuleFor(timezone).Must(value => value is null || TaskSchedule.Zone(value) is not null).WithMessage("timezone must be a known time zone such as UTC or Europe/Berlin")
            .OverridePropertyName("timezone");
        validator.RuleFor(command).Must(value => value is null || value.Trim().Length is > 0 and <= 2048).WithMessage("command must be 1 to 2048 characters").OverridePropertyName("command");
        validator.RuleFor(timeoutSec).InclusiveBetween(1, 3600).OverridePropertyName("timeoutSec");
        validator.RuleFor(maxRetries).InclusiveBetween(0, 5).OverridePropertyName("maxRetries");
        validator.RuleFor(notifyEmails).Must(emails => emails is null || (emails.Length <= 10 && emails.All(email => email is { Length: > 2 and <= 254 } && email.Contains('@', StringComparison.Ordinal))))
            .WithMessage("notifyEmails must be at most 10 e-mail addresses").OverridePropertyName("notifyEmails");
    }

    public static async Task RequireInstanceAsync(DbSession db, Caller caller, Guid instanceId, CancellationToken cancellationToken)
    {
        var scope = FleetVisibility.Of(caller);
        if (!await db.ExecuteScalarAsync<bool>(
                $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})", new { Id = instanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
        {
            throw new NotFoundException($"Instance '{instanceId}' not found");
        }
    }
}
