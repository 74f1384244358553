"""The Cognito user pool the services verify tokens of (`POCDOJO_AUTH_MODE=cognito`).

The tenant is an admin-assigned group `tenant:<uuid>` (runtime/auth.py reads it from `cognito:groups`),
roles are the groups `role:admin` and `role:member`. The custom `tenant` attribute mirrors the tenant
for administrators' tooling; no app client may write it (only the admin API, with IAM credentials).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from deploy.aws.config import DeployConfig
from deploy.aws.nag import acknowledge

ROLE_GROUPS = ("role:admin", "role:member")
TENANT_ATTRIBUTE = "tenant"


class UserDirectory(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"{config.name}-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            password_policy=cognito.PasswordPolicy(
                min_length=15,
                require_digits=False,
                require_lowercase=False,
                require_uppercase=False,
                require_symbols=False,
                temp_password_validity=Duration.days(3),
            ),
            custom_attributes={TENANT_ATTRIBUTE: cognito.StringAttribute(min_len=36, max_len=36, mutable=False)},
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.pool,
            "AwsSolutions-COG1",
            "OWASP ASVS 5 (README, Passwords): length 15, no composition rules; Cognito cannot refuse "
            "common passwords, so length carries the policy.",
        )
        acknowledge(
            self.pool,
            "AwsSolutions-COG2",
            "MFA is optional (TOTP): tenants' users enrol; forcing it is a tenant policy not yet modelled.",
        )
        readable = (
            cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes(TENANT_ATTRIBUTE)
        )
        writable = cognito.ClientAttributes().with_standard_attributes(email=True)
        self.app_client = self.pool.add_client(
            "App",
            user_pool_client_name=f"{config.name}-app",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            read_attributes=readable,
            write_attributes=writable,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.minutes(15),
            id_token_validity=Duration.minutes(15),
            refresh_token_validity=Duration.days(30),
        )
        self.groups = [
            cognito.CfnUserPoolGroup(
                self,
                f"Group{index}",
                user_pool_id=self.pool.user_pool_id,
                group_name=name,
                description=f"POC Dojo {name.split(':')[1]}s",
            )
            for index, name in enumerate(ROLE_GROUPS)
        ]

    @property
    def issuer(self) -> str:
        return self.pool.user_pool_provider_url
