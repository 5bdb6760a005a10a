"""Demo data of the agents app: Acme's AI agent and a realistic help center.

``seed(workspace)`` is called by ``manage.py seed_demo`` after the workspace and its contacts exist. It is
idempotent: the agent is created once, and articles are matched by title (their text is brought up to
date). The demo's conversations are started through the real widget flow by ``escalation.demo``.
"""

from agents.models import Agent, KnowledgeArticle
from agents.services import agent_create, knowledge_article_create, knowledge_article_update
from halo.models import Workspace

HELP_CENTER_URL = "https://help.acme.test/articles/"

# (section, title, body)
ARTICLES: list[tuple[str, str, str]] = [
    # Billing
    (
        "billing",
        "Update your billing details",
        "Workspace admins can change the credit card, billing address and VAT number under Settings > Billing > "
        "Payment method. Changes apply to the next invoice. If a payment fails we retry it three times over a week "
        "and email the billing contact each time.",
    ),
    (
        "billing",
        "Download invoices and receipts",
        "Every invoice is listed under Settings > Billing > Invoices. Click an invoice to download it as a PDF. "
        "Invoices are also emailed to the billing contact on the first day of each month.",
    ),
    (
        "billing",
        "Change your plan",
        "Admins can upgrade or downgrade under Settings > Billing > Plan. Upgrades take effect immediately and are "
        "prorated; downgrades take effect at the end of the current billing period.",
    ),
    (
        "billing",
        "How seats are billed",
        "You pay for each active seat. Adding a teammate adds a seat right away and the difference is prorated on the "
        "next invoice. Removing a teammate frees the seat at the next renewal.",
    ),
    (
        "billing",
        "Accepted payment methods",
        "We accept Visa, Mastercard and American Express cards, SEPA direct debit in Europe, and bank transfer for "
        "annual enterprise plans. We do not accept checks or cryptocurrency.",
    ),
    (
        "billing",
        "Why was my card declined",
        "A declined card is usually an expired card, a spending limit or a bank blocking a foreign charge. Update "
        "the card under Settings > Billing or ask your bank to allow charges from Acme, then retry the payment.",
    ),
    (
        "billing",
        "Annual billing and discounts",
        "Paying yearly saves two months compared with monthly billing. Switch to annual billing under Settings > "
        "Billing > Plan. Non-profits and schools get 30% off: contact us with proof of status.",
    ),
    (
        "billing",
        "Sales tax and VAT",
        "We charge VAT in the EU and UK and sales tax in some US states. Add your VAT number under Settings > "
        "Billing to apply the reverse charge; past invoices are not reissued.",
    ),
    # Accounts
    (
        "accounts",
        "How to reset your password",
        "Forgot your password? Open the sign-in page and click 'Forgot password'. We email you a reset link that is "
        "valid for one hour. Choose a new password of at least 12 characters. If the email does not arrive, check "
        "your spam folder.",
    ),
    (
        "accounts",
        "Turn on two-factor authentication",
        "Go to Profile > Security and click 'Enable two-factor authentication'. Scan the QR code with an "
        "authenticator app and enter the six-digit code. Keep your recovery codes somewhere safe.",
    ),
    (
        "accounts",
        "Lost access to two-factor authentication",
        "Use one of your recovery codes on the sign-in page. Without a recovery code, a workspace admin can reset "
        "two-factor authentication for you under Settings > Team.",
    ),
    (
        "accounts",
        "Invite teammates",
        "Admins invite teammates under Settings > Team > Invite. Invitations expire after seven days; resend one from "
        "the same page. Each accepted invitation uses a seat.",
    ),
    (
        "accounts",
        "Roles and permissions",
        "Admins manage billing, security and the team. Members use every feature but cannot change billing. Viewers "
        "can read but not edit. Change a role under Settings > Team.",
    ),
    (
        "accounts",
        "Change your email address",
        "Open Profile > Account, enter the new email address and confirm it from the link we send to it. Your sign-in "
        "email changes once the new address is confirmed.",
    ),
    (
        "accounts",
        "Single sign-on (SSO) with SAML",
        "Enterprise workspaces can require sign-in through Okta, Azure AD or Google Workspace. Configure it under "
        "Settings > Security > SSO with your identity provider's metadata URL.",
    ),
    (
        "accounts",
        "Sign in with Google",
        "Click 'Continue with Google' on the sign-in page. If your workspace enforces SSO, you must sign in through "
        "your company's identity provider instead.",
    ),
    # Integrations
    (
        "integrations",
        "Connect the Slack integration",
        "Go to Settings > Integrations, pick Slack and approve the permissions. Choose a channel for notifications. "
        "You can connect several channels and pick which events go to each.",
    ),
    (
        "integrations",
        "Connect Salesforce",
        "The Salesforce integration syncs accounts and contacts every 15 minutes. Connect it under Settings > "
        "Integrations > Salesforce with a Salesforce admin account.",
    ),
    (
        "integrations",
        "Zapier integration",
        "Use the Acme app on Zapier to connect more than 5,000 tools. Create a Zap with an Acme trigger such as 'New "
        "project' and paste your API key when Zapier asks for it.",
    ),
    (
        "integrations",
        "Use the REST API",
        "Create an API key under Settings > API. Send it as a Bearer token. The API is rate limited to 600 requests a "
        "minute per workspace; responses over the limit return status 429 with a Retry-After header.",
    ),
    (
        "integrations",
        "Webhooks",
        "Webhooks post a JSON event to your URL when something changes. Add an endpoint under Settings > API > "
        "Webhooks. Each request is signed with HMAC-SHA256 in the X-Acme-Signature header; verify it.",
    ),
    (
        "integrations",
        "Google Drive integration",
        "Attach files from Google Drive to any project. Connect it under Settings > Integrations > Google Drive; "
        "files keep their Drive permissions.",
    ),
    (
        "integrations",
        "Microsoft Teams notifications",
        "Install the Acme app from the Teams app store, then choose a team and channel under Settings > Integrations "
        "> Microsoft Teams.",
    ),
    # Data
    (
        "data",
        "Export your data as CSV",
        "Every report and list has an Export button that downloads a CSV file of the rows you see. Admins can export "
        "the whole workspace under Settings > Data > Export; we email a link when the file is ready.",
    ),
    (
        "data",
        "Import data from a spreadsheet",
        "Go to Projects > Import and upload a CSV or XLSX file. Map each column to a field, preview the result and "
        "confirm. Imports of more than 10,000 rows run in the background.",
    ),
    (
        "data",
        "Data retention and backups",
        "We back up every workspace daily and keep backups for 30 days. Deleted projects stay in the trash for 30 "
        "days before they are removed for good.",
    ),
    (
        "data",
        "Restore a deleted project",
        "Open Projects > Trash, find the project and click Restore. Projects can be restored for 30 days after they "
        "were deleted.",
    ),
    (
        "data",
        "Where is my data stored",
        "Workspaces are hosted in the EU (Frankfurt) or the US (Virginia), chosen when the workspace is created. "
        "Enterprise plans can move regions on request.",
    ),
    # Troubleshooting
    (
        "troubleshooting",
        "The app is slow or not loading",
        "Clear your browser cache, disable extensions and try a private window. Check status.acme.test for ongoing "
        "incidents. If it persists, send us your browser version and a screenshot of the console.",
    ),
    (
        "troubleshooting",
        "Not receiving email notifications",
        "Check Profile > Notifications, then your spam folder, and add notifications@acme.test to your contacts. "
        "Corporate filters sometimes hold our emails: ask IT to allow our domain.",
    ),
    (
        "troubleshooting",
        "Supported browsers",
        "Acme works in the latest two versions of Chrome, Firefox, Safari and Edge. Internet Explorer is not "
        "supported.",
    ),
    (
        "troubleshooting",
        "Mobile app sync problems",
        "Pull down to refresh, check that the app is up to date and that background refresh is allowed. Signing out "
        "and back in forces a full sync.",
    ),
    (
        "troubleshooting",
        "Error 403 when opening a project",
        "A 403 means your role does not allow access to that project. Ask a workspace admin to add you to the "
        "project or to change your role.",
    ),
    # Account lifecycle and policies (human-only topics point here too)
    (
        "policies",
        "Refund policy",
        "Monthly plans are not refunded for partial months. Annual plans can be refunded within 30 days of purchase. "
        "Refunds are handled by our billing team: ask in chat and a teammate will take care of it.",
    ),
    (
        "policies",
        "Cancel your subscription",
        "Admins can cancel under Settings > Billing > Plan > Cancel. The workspace stays active until the end of the "
        "paid period, then becomes read-only for 30 days before deletion.",
    ),
    (
        "policies",
        "Delete your account",
        "Deleting an account is permanent. For security, account deletion is done by our support team after verifying "
        "the workspace owner: ask in chat.",
    ),
    (
        "policies",
        "Privacy and GDPR",
        "Acme is GDPR compliant and signs a Data Processing Agreement on request. Data subject requests (access, "
        "deletion) are handled by our privacy team within 30 days.",
    ),
    (
        "policies",
        "Security and compliance",
        "Acme is SOC 2 Type II certified. Data is encrypted in transit (TLS 1.2+) and at rest (AES-256). Our security "
        "whitepaper is available to customers on request.",
    ),
    (
        "policies",
        "Service level agreement",
        "Enterprise plans include a 99.9% uptime SLA with service credits. Uptime history is published on "
        "status.acme.test.",
    ),
    (
        "policies",
        "Contact support",
        "Chat with us from any page: our AI assistant answers right away and brings in a teammate when needed. The "
        "support team replies within a few hours on business days.",
    ),
]


def _slug(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())


def seed(workspace: Workspace) -> None:
    agent = Agent.objects.filter(workspace=workspace).order_by("id").first()
    if agent is None:
        agent = agent_create(
            workspace=workspace,
            name="Ada",
            greeting="Hi, I'm Ada, Acme's assistant. Ask me about billing, your account, integrations or your data.",
        )
    existing = {article.title: article for article in KnowledgeArticle.objects.filter(workspace=workspace)}
    for _section, title, body in ARTICLES:
        url = HELP_CENTER_URL + _slug(title)
        article = existing.get(title)
        if article is None:
            knowledge_article_create(workspace=workspace, title=title, body=body, url=url)
        elif (article.body, article.url) != (body, url):
            knowledge_article_update(article=article, data={"body": body, "url": url})
