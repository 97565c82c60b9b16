//! Turns a conversation into the prompt text a model was trained on, with the Jinja chat
//! template its GGUF file carries (`tokenizer.chat_template`), so any instruct model
//! dropped into the model directory is prompted the way its authors intended.

use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;

use crate::chat::Message;

/// A compiled chat template.
#[derive(Debug)]
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

#[derive(Serialize)]
struct TemplateMessage<'m> {
    role: &'static str,
    content: &'m str,
}

/// The name the template is stored under in the environment.
const NAME: &str = "chat";

impl ChatTemplate {
    /// Compiles `source`.
    ///
    /// # Errors
    /// When the template is not valid Jinja.
    pub(crate) fn new(source: String, bos_token: String, eos_token: String) -> Result<Self, Error> {
        let mut env = Environment::new();
        // Hugging Face templates signal unsupported conversations with this function.
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned(NAME, source)?;
        Ok(Self {
            env,
            bos_token,
            eos_token,
        })
    }

    /// Renders the conversation followed by the opening of the assistant's turn.
    ///
    /// # Errors
    /// When the template refuses the conversation (say, roles out of order); the message
    /// is the template's own and fit to show to the caller.
    pub(crate) fn render(&self, messages: &[Message]) -> Result<String, Error> {
        let messages: Vec<TemplateMessage<'_>> = messages
            .iter()
            .map(|m| TemplateMessage {
                role: m.role.as_str(),
                content: &m.content,
            })
            .collect();
        self.env.get_template(NAME)?.render(context! {
            messages,
            add_generation_prompt => true,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Role;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + \
        '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}\
        {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    fn user(text: &str) -> Message {
        Message {
            role: Role::User,
            content: text.to_owned(),
        }
    }

    #[test]
    fn chatml_renders_each_turn_and_opens_the_reply() {
        let template =
            ChatTemplate::new(CHATML.to_owned(), String::new(), String::new()).expect("valid");
        let prompt = template.render(&[user("你好")]).expect("renders");
        assert_eq!(
            prompt,
            "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_template_that_raises_reports_its_message() {
        let source = "{{ raise_exception('roles must alternate') }}".to_owned();
        let template = ChatTemplate::new(source, String::new(), String::new()).expect("valid");
        let error = template.render(&[user("hi")]).expect_err("raises");
        assert!(
            error.to_string().contains("roles must alternate"),
            "{error}"
        );
    }
}
